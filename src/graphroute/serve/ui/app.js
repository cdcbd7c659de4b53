// graphroute dashboard: reads /ui/api/data (an admin key when the server has keys) and redraws every few seconds.
"use strict";
const COLORS = ["#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d", "#bab0ac"];
const params = new URLSearchParams(location.search);
const EVERY = Math.max(1, Number(params.get("refresh") || 5));
const colorOf = {};

function color(model) {
  if (!(model in colorOf)) colorOf[model] = COLORS[Object.keys(colorOf).length % COLORS.length];
  return colorOf[model];
}
function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  for (const kid of kids) e.append(kid instanceof Node ? kid : document.createTextNode(kid == null ? "–" : String(kid)));
  return e;
}
function svg(tag, attrs) {
  const e = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}
const dollars = (x) => (x == null ? "–" : Number(x).toFixed(6));
const ms = (x) => (x == null ? "–" : Number(x).toFixed(1));
const pair = (q) => (q ? `${ms(q.p50)} / ${ms(q.p95)}` : "–");
function num(v, testid) {
  const td = el("td", { class: "num" }, v);
  if (testid) td.setAttribute("data-testid", testid);
  return td;
}
function fill(table, rows) {
  const body = document.querySelector(`[data-testid="${table}"] tbody`);
  body.replaceChildren(...rows);
}
function setText(testid, text) { document.querySelector(`[data-testid="${testid}"]`).textContent = text; }

function mixChart(models, step) {  // stacked bars: answers per model in each time bin
  const names = Object.keys(models);
  const bins = names.length ? models[names[0]].length : 0;
  const totals = Array.from({ length: bins }, (_, i) => names.reduce((s, m) => s + models[m][i], 0));
  const top = Math.max(1, ...totals), w = 8, h = 40;
  const chart = svg("svg", { width: bins * (w + 2), height: h, role: "img" });
  for (let i = 0; i < bins; i++) {
    let y = h;
    for (const m of names) {
      const bh = (models[m][i] / top) * h;
      if (bh <= 0) continue;
      y -= bh;
      const r = svg("rect", { x: i * (w + 2), y, width: w, height: bh, fill: color(m) });
      const t = svg("title", {});
      t.textContent = `${m}: ${models[m][i]} in ${Math.round(step)} s`;
      r.append(t);
      chart.append(r);
    }
  }
  const legend = el("div", { class: "legend" }, ...names.map((m) => {
    const i = el("i", {}); i.style.background = color(m);
    return el("span", {}, i, `${m} ${models[m].reduce((a, b) => a + b, 0)}`);
  }));
  return el("div", {}, chart, legend);
}

function render(d) {
  const m = d.metrics, t = d.telemetry, stats = t.stats;
  setText("requests", m.requests);
  setText("answered", m.answered);
  setText("cost", dollars(m.cost));
  setText("decisions", stats ? stats.decisions : "no telemetry");
  setText("stats-cost", stats ? dollars(stats.cost_total) : "–");
  setText("latency", stats ? `${ms(stats.latency_ms.p50)} / ${ms(stats.latency_ms.p95)} / ${ms(stats.latency_ms.p99)}` : "–");
  const series = (t.mix && t.mix.series) || {};
  fill("virtual-models", Object.entries(m.virtual_models).map(([vm, row]) => {
    const q = m.request_ms[vm] || {};
    const mix = series[vm] ? mixChart(series[vm], t.mix.step_s) : "–";
    return el("tr", { "data-vm": vm }, el("td", {}, vm), num(row.requests, `vm-requests-${vm}`), num(row.errors),
      num(ms(q.p50)), num(ms(q.p95)), el("td", {}, mix));
  }));
  const share = (stats && stats.model_mix) || {};
  fill("models", m.models.map((r) => el("tr", { "data-model": r.model }, el("td", {}, r.model),
    num(r.answered, `model-answered-${r.model}`), num(share[r.model] == null ? "–" : (100 * share[r.model]).toFixed(1) + " %"),
    num(dollars(r.cost), `model-cost-${r.model}`), el("td", { class: r.breaker, "data-testid": `breaker-${r.model}` }, r.breaker),
    num(pair(r.upstream_ms)), num(pair(r.ttft_ms)),
    el("td", {}, Object.entries(r.errors).map(([k, v]) => `${k} ${v}`).join(", ") || "none"))));
  fill("fallbacks", m.fallbacks.length ? m.fallbacks.map((f) => el("tr", {}, el("td", {}, f.chosen), el("td", {}, f.answered),
    num(f.count, `fallback-${f.chosen}-${f.answered}`))) : [el("tr", {}, el("td", { colspan: 3 }, "none"))]);
  fill("budgets", m.budgets.length ? m.budgets.map((b) => {
    const w = 160, left = b.limit > 0 ? Math.max(0, Math.min(1, b.remaining / b.limit)) : 0;
    const full = el("span", { class: "bar left" }), empty = el("span", { class: "bar empty" });
    full.style.width = `${w * left}px`;  // through the CSSOM: the page's policy blocks style attributes
    empty.style.width = `${w * (1 - left)}px`;
    const bar = el("span", {}, full, empty);
    return el("tr", {}, el("td", {}, b.scope), num(dollars(b.limit)), num(dollars(b.remaining), `budget-left-${b.scope}`),
      el("td", {}, bar));
  }) : [el("tr", {}, el("td", { colspan: 4 }, "no budgets configured"))]);
  fill("keys", t.keys.map((k) => el("tr", {}, el("td", {}, k.key), num(k.requests), num(dollars(k.cost), `key-cost-${k.key}`))));
  const box = document.querySelector('[data-testid="experiments"]');
  box.replaceChildren(...(d.experiments.length ? d.experiments.map(experiment) : [el("p", {}, "no experiments configured")]));
  setText("updated", `updated ${new Date(d.generated_at * 1000).toLocaleTimeString()}`);
  document.body.dataset.generatedAt = String(d.generated_at);
}

function experiment(x) {
  const head = el("h3", {}, `${x.name}: `, el("span", { class: "verdict", "data-testid": `experiment-${x.name}` }, x.state));
  if (!x.report) return el("div", {}, head, el("p", { class: "note" }, x.why || ""));
  const r = x.report;
  const rows = r.comparisons.map((c) => {
    const cmp = c.comparison || {};
    const ci = cmp.ci ? `[${cmp.ci.map((v) => Number(v).toFixed(4)).join(", ")}]` : "–";
    return el("tr", {}, el("td", {}, c.arm), el("td", {}, c.metric), num(cmp.diff == null ? "–" : Number(cmp.diff).toFixed(4)),
      num(ci), num(cmp.p_value == null ? "–" : Number(cmp.p_value).toFixed(4)), el("td", {}, c.verdict));
  });
  const arms = el("p", { class: "note" }, r.arms.map((a) => `${a.name}${a.shadow ? " (shadow)" : ""}: ${a.requests} requests`).join(" · "));
  const table = el("table", {}, el("thead", {}, el("tr", {}, ...["arm", "metric", "difference", "interval", "p", "verdict"]
    .map((h) => el("th", {}, h)))), el("tbody", {}, ...rows));
  return el("div", {}, head, arms, table);
}

async function refresh() {
  const key = sessionStorage.getItem("graphroute-key");
  const res = await fetch("/ui/api/data", { headers: key ? { authorization: `Bearer ${key}` } : {} });
  if (res.status === 401 || res.status === 403) {
    document.getElementById("key-form").hidden = false;
    setText("status", res.status === 401 ? "an admin key is needed" : "this key is not an admin key");
    return;
  }
  if (!res.ok) { setText("status", `error ${res.status}`); return; }
  document.getElementById("key-form").hidden = true;
  render(await res.json());
  setText("status", "live");
}

document.getElementById("every").textContent = String(EVERY);
document.getElementById("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem("graphroute-key", document.getElementById("key").value);
  refresh();
});
refresh().catch((e) => setText("status", String(e)));
setInterval(() => refresh().catch((e) => setText("status", String(e))), EVERY * 1000);
