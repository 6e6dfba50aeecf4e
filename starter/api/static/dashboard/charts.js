// Hand-written SVG charts for the docflow dashboard: no library, no network.
// Each chart is an <svg role="img"> with a text summary, followed by a <details> holding the
// same numbers as a table (the accessible fallback, and what tests read).

const SVG_NS = "http://www.w3.org/2000/svg";

// Colour-blind-friendly palette (Okabe–Ito, then a few neutrals).
export const PALETTE = [
  "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9",
  "#d55e00", "#f0e442", "#6b7280", "#1f2937", "#a3a3a3",
];

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "className") node.className = value;
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = String(text);
  return node;
}

/** An axis for counts: whole-number ticks (about 5 steps) and the axis maximum. */
function axis(value) {
  if (value <= 0) return { max: 1, ticks: [0, 1] };
  const rough = value / 5;
  const power = 10 ** Math.floor(Math.log10(rough));
  let step = power;
  for (const m of [1, 2, 5, 10]) {
    if (m * power >= rough) { step = m * power; break; }
  }
  step = Math.max(1, Math.round(step));
  const max = Math.ceil(value / step) * step;
  const ticks = [];
  for (let t = 0; t <= max; t += step) ticks.push(t);
  return { max, ticks };
}

/** The chart's drawing width: the container's, so text stays at its CSS size. */
function widthOf(target) {
  return Math.max(Math.round(target.clientWidth || 640), 320);
}

function fmt(value) {
  return Number.isInteger(value) ? String(value) : value.toFixed(1);
}

/** A table of rows (arrays of cells); the first column is a header cell. */
export function table(caption, headers, rows, { id, className } = {}) {
  const head = el("tr", {}, ...headers.map((h) => el("th", { scope: "col", text: h })));
  const body = rows.map((row) =>
    el("tr", {}, ...row.map((cell, i) => {
      const node = el(i === 0 ? "th" : "td", i === 0 ? { scope: "row" } : {});
      if (cell instanceof Node) node.append(cell);
      else node.textContent = cell === null || cell === undefined ? "–" : String(cell);
      if (typeof cell === "number") node.className = "num";
      return node;
    })));
  return el("table", { id, className: className || "data" },
    el("caption", { text: caption }), el("thead", {}, head), el("tbody", {}, ...body));
}

// Tables the reader opened stay open when the figures refresh.
const openTables = new Set();

function fallback(caption, headers, rows, id) {
  const details = el("details", { className: "fallback", open: openTables.has(id) },
    el("summary", { text: "Show as table" }), table(caption, headers, rows, { id }));
  details.addEventListener("toggle", () => {
    if (details.open) openTables.add(id);
    else openTables.delete(id);
  });
  return details;
}

function legend(series) {
  return el("ul", { className: "legend", "aria-hidden": "true" },
    ...series.map((s, i) => el("li", {},
      el("span", { className: `swatch c${i % PALETTE.length}` }), s)));
}

/**
 * Horizontal stacked bars: one bar per category, one segment per series.
 * data: [{label, values: {series: count}}]; series: ordered series names.
 */
export function stackedBars(target, { title, data, series, id, empty = "Nothing to show." }) {
  target.replaceChildren();
  if (!data.length) {
    target.append(el("p", { className: "empty-chart", text: empty }));
    return;
  }
  const rowH = 26, gap = 10, labelW = 150, right = 50, top = 8, axisH = 22;
  const width = widthOf(target);
  const totals = data.map((d) => series.reduce((sum, s) => sum + (d.values[s] || 0), 0));
  const { max, ticks } = axis(Math.max(...totals));
  const plotW = width - labelW - right;
  const height = top + data.length * (rowH + gap) + axisH;
  const summary = data.map((d, i) => `${d.label}: ${totals[i]}`).join("; ");
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}. ${summary}`,
    class: "chart-svg", "data-chart": id,
  });
  for (const t of ticks) {
    const x = labelW + (t / max) * plotW;
    root.append(svg("line", { x1: x, x2: x, y1: top - 4, y2: height - axisH, class: "grid" }));
    root.append(svg("text", { x, y: height - 6, class: "tick", "text-anchor": "middle" }, fmt(t)));
  }
  data.forEach((d, i) => {
    const y = top + i * (rowH + gap);
    root.append(svg("text", {
      x: labelW - 8, y: y + rowH / 2 + 4, class: "label", "text-anchor": "end",
    }, d.label));
    let x = labelW;
    series.forEach((s, j) => {
      const value = d.values[s] || 0;
      if (!value) return;
      const w = (value / max) * plotW;
      const rect = svg("rect", {
        x, y, width: Math.max(w, 1), height: rowH, class: `seg c${j % PALETTE.length}`,
        "data-series": s, "data-category": d.label, "data-value": value,
      });
      rect.append(svg("title", {}, `${d.label} · ${s}: ${value}`));
      root.append(rect);
      if (w > 22) {
        root.append(svg("text", {
          x: x + w / 2, y: y + rowH / 2 + 4, class: "seg-label", "text-anchor": "middle",
        }, value));
      }
      x += w;
    });
    root.append(svg("text", { x: x + 6, y: y + rowH / 2 + 4, class: "total" }, totals[i]));
  });
  const headers = ["", ...series, "Total"];
  const rows = data.map((d, i) => [d.label, ...series.map((s) => d.values[s] || 0), totals[i]]);
  target.append(
    series.length > 1 ? legend(series) : "",
    root,
    fallback(title, headers, rows, id ? `${id}-table` : undefined),
  );
}

/** Horizontal bars of single values: data [{label, value}]. */
export function bars(target, { title, data, id, valueLabel = "Count", empty }) {
  stackedBars(target, {
    title, id, empty,
    series: [valueLabel],
    data: data.map((d) => ({ label: d.label, values: { [valueLabel]: d.value } })),
  });
}

/** Vertical bars over days: data [{label: 'YYYY-MM-DD', value}]. */
export function columns(target, { title, data, id, valueLabel = "Count", empty }) {
  target.replaceChildren();
  if (!data.length) {
    target.append(el("p", { className: "empty-chart", text: empty || "Nothing to show." }));
    return;
  }
  const width = widthOf(target), height = 200, left = 36, bottom = 38, top = 10, right = 8;
  const { max, ticks } = axis(Math.max(...data.map((d) => d.value)));
  const plotW = width - left - right, plotH = height - top - bottom;
  const slot = plotW / data.length;
  const barW = Math.max(Math.min(slot * 0.7, 40), 2);
  const summary = data.map((d) => `${d.label}: ${d.value}`).join("; ");
  const root = svg("svg", {
    viewBox: `0 0 ${width} ${height}`, role: "img", "aria-label": `${title}. ${summary}`,
    class: "chart-svg", "data-chart": id,
  });
  for (const t of ticks) {
    const y = top + plotH - (t / max) * plotH;
    root.append(svg("line", { x1: left, x2: width - right, y1: y, y2: y, class: "grid" }));
    root.append(svg("text", { x: left - 6, y: y + 4, class: "tick", "text-anchor": "end" },
      fmt(t)));
  }
  const every = Math.ceil(data.length / 10);
  data.forEach((d, i) => {
    const h = (d.value / max) * plotH;
    const x = left + i * slot + (slot - barW) / 2;
    const rect = svg("rect", {
      x, y: top + plotH - h, width: barW, height: Math.max(h, d.value ? 1 : 0),
      class: "seg c0", "data-category": d.label, "data-value": d.value,
    });
    rect.append(svg("title", {}, `${d.label}: ${d.value}`));
    root.append(rect);
    if (i % every === 0) {
      root.append(svg("text", {
        x: x + barW / 2, y: height - bottom + 16, class: "tick", "text-anchor": "middle",
      }, d.label.slice(5)));
    }
  });
  target.append(root, fallback(title, ["Day", valueLabel], data.map((d) => [d.label, d.value]),
    id ? `${id}-table` : undefined));
}
