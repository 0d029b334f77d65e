// Shared with bench/ (which must not import test/): the one copy is in tools/pipeline.
export { apiFigures, eventually, lakeFigures, ordersOf, tally, type WindowFigure } from "#tools/pipeline/figures";
