// Shared with bench/ (which must not import test/): the one copy is in tools/pipeline.
export { postSales, type ReadResponse, request } from "#tools/pipeline/http";
