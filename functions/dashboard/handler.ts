import { config } from "./config.ts";
import api from "./page/api.mjs";
import dashboard from "./page/dashboard.mjs";
import index from "./page/index.html";
import style from "./page/style.css";
import type { PageAssets } from "./page.ts";
import { createHandler, productionDeps } from "./wiring.ts";

// The page's files, bundled as text by the template's esbuild Loader.
const script = "text/javascript; charset=utf-8";
const assets: PageAssets = new Map([
  ["index.html", { body: index, contentType: "text/html; charset=utf-8" }],
  ["style.css", { body: style, contentType: "text/css; charset=utf-8" }],
  ["dashboard.mjs", { body: dashboard, contentType: script }],
  ["api.mjs", { body: api, contentType: script }],
]);

/** GET / and GET /dashboard/{asset}: the live dashboard's static page, which reads the query API. */
export const handler = createHandler(productionDeps(config, assets));
