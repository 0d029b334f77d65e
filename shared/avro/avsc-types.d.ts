declare module "avsc/etc/browser/avsc-types.js" {
  const types: unknown;
  export default types;
}
