// Shared with bench/ (which must not import test/): the one copy is in tools/pipeline.
export { downloadAll, listKeys, readText } from "#tools/pipeline/s3";
