// The dashboard's page files are bundled as text (template.yaml: Loader .html/.css/.mjs=text), so
// the handler imports each as its string. No TypeScript module imports .html, .css or .mjs otherwise.
declare module "*.html" {
  const text: string;
  export default text;
}
declare module "*.css" {
  const text: string;
  export default text;
}
declare module "*.mjs" {
  const text: string;
  export default text;
}
