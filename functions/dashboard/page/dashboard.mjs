// The live dashboard: top countries and regions of the current window, a region's series as an
// SVG chart, the window's status and freshness. Plain browser JavaScript, nothing to build; all
// API access is in api.mjs. Values from the API are put in the page as text, never as HTML
// (country names are free text). Money is shown as the API's decimal strings.
import { ApiError, centsOf, chartPlan, pageConfig, queryApi, tokenSource } from "./api.mjs";

const REFRESH_MS = 5000;
/** The board shown first when the address names none and the API has it (the API's own default). */
const PREFERRED_WINDOW = "10m/5m";

const $ = (id) => document.getElementById(id);
// The chart follows the top region until the reader picks one.
const state = { window: null, final: false, region: null, regionPicked: false, updatedAt: null, busy: false };
let api;
/** The query API's windows with their grids, from /dashboard/config.json. */
let windows = [];

function element(tag, attributes = {}, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = String(text);
  return node;
}

const svg = (tag, attributes = {}, text) => {
  const node = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
};

const hhmm = (iso) => (iso === null ? "" : `${iso.slice(11, 16)}`);
const dayOf = (iso) => (iso === null ? "" : iso.slice(0, 10));

function windowRange(window) {
  if (window.start === null) return "no window yet";
  const sameDay = dayOf(window.start) === dayOf(window.end);
  return `${dayOf(window.start)} ${hhmm(window.start)}–${sameDay ? "" : `${dayOf(window.end)} `}${hhmm(window.end)} UTC`;
}

/** Rows of a leaderboard table; bar lengths are proportions of exact cents, the figures the API's strings. */
function fillBoard(table, board, { selectable = false } = {}) {
  const body = table.tBodies[0];
  body.replaceChildren();
  if (board.entries.length === 0) {
    const row = element("tr", { class: "empty" });
    row.append(element("td", { colspan: "5" }, "No sales in this window yet"));
    body.append(row);
    return;
  }
  const top = board.entries.reduce((max, entry) => (centsOf(entry.sales) > max ? centsOf(entry.sales) : max), 1n);
  board.entries.forEach((entry, index) => {
    const row = element("tr", { "data-value": entry.value });
    if (selectable) {
      row.classList.add("clickable");
      if (entry.value === state.region) row.classList.add("selected");
      row.addEventListener("click", () => selectRegion(entry.value));
    }
    const share = Number((centsOf(entry.sales) * 1000n) / top) / 10;
    const bar = element("div", { class: "bar" });
    bar.style.width = `${Math.max(share, 0)}%`; // through the CSSOM: the page's CSP allows no inline style attribute
    const barCell = element("td", { class: "bar-cell" });
    barCell.append(bar);
    row.append(
      element("td", {}, index + 1),
      element("td", { class: "name", title: entry.value }, entry.value),
      element("td", { class: "num orders" }, entry.orders.toLocaleString("en-US")),
      element("td", { class: "num sales" }, entry.sales),
      barCell,
    );
    body.append(row);
  });
}

function showStatus(board) {
  const pill = $("state");
  const status = board.window.status ?? "none";
  pill.className = `pill ${status}`;
  pill.textContent = board.basis === "final" ? `${status} · final` : status === "open" ? "open · running" : status;
  $("window-range").textContent =
    `${board.window.name ?? state.window} · ${windowRange(board.window)}${board.basis === "latest closed" ? " (latest closed)" : ""}`;
  const note = $("revised");
  note.hidden = !board.window.revised;
  note.textContent = revisedText(board.window.revised);
  $("completeness").textContent = completenessText(board.completeness);
}

/** "revised <when> UTC: <why>" for a window a rebuild replaced, "" otherwise. */
const revisedText = (revised) => (revised ? `revised ${revised.at.slice(0, 16).replace("T", " ")} UTC: ${revised.reason}` : "");

/** The API's completeness report in words, whatever fields it has (lag in ms, partition lists or counts). */
function completenessText(completeness) {
  if (completeness === null || typeof completeness !== "object") return "";
  const parts = [];
  for (const [key, value] of Object.entries(completeness)) {
    const label = key
      .replace(/Ms$/, "")
      .replace(/([a-z])([A-Z])/g, "$1 $2")
      .toLowerCase();
    if (typeof value === "number" && key.endsWith("Ms")) parts.push(`${label} ${(value / 1000).toFixed(1)} s`);
    else if (Array.isArray(value)) parts.push(`${label}: ${value.length === 0 ? "none" : value.join(", ")}`);
    else if (value !== null && typeof value === "object") continue;
    else parts.push(`${label} ${value}`);
  }
  return parts.join(" · ");
}

function showFreshness() {
  if (state.updatedAt === null) return;
  const seconds = Math.round((Date.now() - state.updatedAt) / 1000);
  const pill = $("state");
  $("freshness").textContent = `updated ${new Date(state.updatedAt).toISOString().slice(11, 19)} UTC (${seconds} s ago)`;
  pill.classList.toggle("stale", seconds > (3 * REFRESH_MS) / 1000);
}

function selectRegion(region) {
  state.region = region;
  state.regionPicked = true;
  $("region").value = region;
  for (const row of $("regions").tBodies[0].rows) row.classList.toggle("selected", row.dataset.value === region);
  void refreshSeries();
}

function fillRegionChoice(regions) {
  const select = $("region");
  const leader = regions.entries[0]?.value;
  if (!state.regionPicked && leader !== undefined) state.region = leader;
  const names = [...new Set([...(state.region === null ? [] : [state.region]), ...regions.entries.map((e) => e.value)])];
  const current = [...select.options].map((o) => o.value).join("\n");
  if (current !== names.join("\n")) select.replaceChildren(...names.map((name) => element("option", { value: name }, name)));
  if (state.region !== null) select.value = state.region;
}

/** Bars of a series on a grid: height is the window's exact cents over the largest; labels are the API's strings (dates for day windows and up). */
function drawChart(series, { dates }) {
  const width = 960;
  const height = 240;
  const left = 72;
  const bottom = 26;
  const top = 14;
  const chart = svg("svg", { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${state.region} sales by window` });
  const max = series.windows.reduce((m, w) => (centsOf(w.sales) > m ? centsOf(w.sales) : m), 0n);
  const largest = series.windows.find((w) => centsOf(w.sales) === max);
  const plotHeight = height - top - bottom;
  for (const fraction of [0, 0.5, 1]) {
    const y = top + plotHeight * (1 - fraction);
    chart.append(svg("line", { class: "grid-line", x1: left, x2: width, y1: y, y2: y }));
  }
  chart.append(svg("text", { class: "axis", x: left - 8, y: top + 4, "text-anchor": "end" }, max === 0n ? "0.00" : largest.sales));
  chart.append(svg("text", { class: "axis", x: left - 8, y: top + plotHeight + 4, "text-anchor": "end" }, "0.00"));
  const step = (width - left) / Math.max(series.windows.length, 1);
  series.windows.forEach((w, index) => {
    const cents = centsOf(w.sales);
    const barHeight = max === 0n ? 0 : (Number((cents * 10_000n) / max) / 10_000) * plotHeight;
    const x = left + index * step + step * 0.12;
    const rect = svg("rect", {
      class: `bar-rect ${w.status === "open" ? "open" : ""} ${w.revised ? "revised" : ""}`,
      x: x.toFixed(1),
      y: (top + plotHeight - barHeight).toFixed(1),
      width: (step * 0.76).toFixed(1),
      height: Math.max(barHeight, cents > 0n ? 1 : 0).toFixed(1),
    });
    rect.append(
      svg(
        "title",
        {},
        `${windowRange(w)}: ${w.orders} orders, ${w.sales}${w.status === "open" ? " (open)" : ""}${w.revised ? ` · ${revisedText(w.revised)}` : ""}`,
      ),
    );
    chart.append(rect);
    const every = Math.ceil(series.windows.length / 8);
    if (index % every === 0) {
      const label = dates ? dayOf(w.start).slice(5) : hhmm(w.start);
      chart.append(svg("text", { class: "axis", x: (x + step * 0.38).toFixed(1), y: height - 8, "text-anchor": "middle" }, label));
    }
  });
  $("chart").replaceChildren(chart);
  $("revised-legend").hidden = !series.windows.some((w) => w.revised);
  const orders = series.windows.reduce((n, w) => n + w.orders, 0);
  $("series-total").textContent =
    series.total === null
      ? `${series.range.from.slice(0, 16)}Z – ${series.range.to.slice(0, 16)}Z`
      : `Total ${series.total} from ${orders.toLocaleString("en-US")} orders, ${series.range.from.slice(0, 16)}Z – ${series.range.to.slice(0, 16)}Z`;
}

async function refreshSeries() {
  if (state.region === null) return;
  const plan = chartPlan(state.window, windows);
  if (plan === null) {
    $("series-caption").textContent = "no window with a grid to chart";
    $("chart").replaceChildren();
    return;
  }
  $("series-caption").textContent = plan.caption;
  drawChart(await api.series("region", state.region, { window: plan.window, points: plan.points }), plan);
}

function showError(error) {
  const banner = $("error");
  if (error === undefined) {
    banner.hidden = true;
    return;
  }
  banner.hidden = false;
  banner.textContent =
    error instanceof ApiError
      ? `The API answered ${error.status} ${error.code}: ${error.message}`
      : `Could not reach the API: ${error.message}`;
}

async function refresh() {
  if (state.busy) return;
  state.busy = true;
  try {
    const options = { window: state.window, final: state.final, limit: 10 };
    const [countries, regions] = await Promise.all([api.leaderboard("country", options), api.leaderboard("region", options)]);
    fillBoard($("countries"), countries);
    fillRegionChoice(regions);
    fillBoard($("regions"), regions, { selectable: true });
    showStatus(countries);
    await refreshSeries();
    state.updatedAt = Date.now();
    showFreshness();
    showError(undefined);
    document.body.dataset.refreshed = String(state.updatedAt);
  } catch (error) {
    showError(error);
  } finally {
    state.busy = false;
  }
}

function windowButtons(names) {
  const nav = $("windows");
  nav.replaceChildren(
    ...names.map((name) => {
      const button = element(
        "button",
        { type: "button", "aria-pressed": String(name === state.window) },
        name === "all" ? "all time" : name,
      );
      button.addEventListener("click", () => {
        state.window = name;
        for (const other of nav.children) other.setAttribute("aria-pressed", String(other === button));
        void refresh();
      });
      return button;
    }),
  );
}

async function start() {
  const params = new URLSearchParams(location.search);
  const config = await pageConfig();
  windows = config.windows;
  const names = windows.map((w) => w.name);
  state.window = params.get("window") ?? (names.includes(PREFERRED_WINDOW) ? PREFERRED_WINDOW : names[0]);
  if (params.has("region")) {
    state.region = params.get("region");
    state.regionPicked = true;
  }
  api = queryApi({ windows, getToken: tokenSource(config) });
  windowButtons(names);
  $("final").addEventListener("change", (event) => {
    state.final = event.target.checked;
    void refresh();
  });
  $("region").addEventListener("change", (event) => selectRegion(event.target.value));
  await refresh();
  setInterval(refresh, REFRESH_MS);
  setInterval(showFreshness, 1000);
}

start().catch(showError);
