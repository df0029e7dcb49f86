// The rca console: plain DOM calls against the REST API. Every text from the API goes in through textContent
// (evidence payloads are untrusted); no framework, nothing loaded from elsewhere.
"use strict";

const TOKEN_KEY = "rca.token";
const ZONE_KEY = "rca.zone";
const SVG = "http://www.w3.org/2000/svg";
const PAGE = 100;
let who = null; // {name, role} of the saved token, once the server accepted it

// Outside text shown as itself: NFKC-normalised, and control, format (bidi overrides, zero-width) and separator
// characters written as visible escapes, so no value can reorder or hide what is around it. Newlines and tabs stay
// (a pretty-printed payload needs them; HTML shows them as spaces elsewhere).
function inert(text) {
  return String(text).normalize("NFKC").replace(/[^\P{C}\n\t]|[\p{Zl}\p{Zp}]/gu,
    (c) => "\\u" + c.codePointAt(0).toString(16).padStart(4, "0"));
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(inert(child)));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = inert(text);
  return node;
}

// ---- the API, and what its refusals mean to a person ---------------------------------------------------------

class ApiError extends Error {
  constructor(status, code, message) { super(message); this.status = status; this.code = code; }
}

async function api(path, options, token) {
  const headers = Object.assign({ Accept: "application/json" }, (options && options.headers) || {});
  const secret = token === undefined ? localStorage.getItem(TOKEN_KEY) : token;
  if (secret) headers.Authorization = "Bearer " + secret;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => ({}));
  if (!response.ok) throw new ApiError(response.status, body.error, personal(response.status, body, !!secret));
  return body;
}

function personal(status, body, hadToken) {
  if (status === 401) {
    return hadToken
      ? "The saved token was not accepted: it is unknown or has been revoked. Paste a new one (Token, top right)."
      : "Paste a token to see incidents (Token, top right). An rca admin creates one with "
        + "`rca token create --name you --role reader`.";
  }
  if (status === 403) {
    const role = who ? `Your token (${who.name}) is a ${who.role} token` : "Your token";
    return `${role} and may not do this. ${body.message || ""}`.trim();
  }
  if (status === 404) return body.message || "Not found.";
  return `The server could not answer (${status}). ${body.message || ""}`.trim();
}

async function pages(path, params, onPage) {
  // Follows next_cursor when the server pages; one call when it does not.
  const query = new URLSearchParams(params);
  query.set("limit", String(PAGE));
  const body = await api(`${path}?${query}`);
  onPage(body.items || [], body.next_cursor ? async () => {
    const more = new URLSearchParams(query);
    more.set("cursor", body.next_cursor);
    return pages(path, Object.fromEntries(more), onPage);
  } : null);
}

function showError(error) {
  const box = document.getElementById("error");
  box.textContent = error ? String(error.message || error) : "";
  box.hidden = !error;
  if (error && error.status === 401) openTokenPanel(true);
}

// ---- times: one format everywhere, UTC or this browser's zone --------------------------------------------------

function zone() { return localStorage.getItem(ZONE_KEY) === "local" ? undefined : "UTC"; }

function fmt(time) {
  if (!time) return "n/a";
  const date = new Date(time);
  if (Number.isNaN(date.getTime())) return String(time);
  const parts = Object.fromEntries(new Intl.DateTimeFormat("en-GB", {
    timeZone: zone(), year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
    second: "2-digit", hour12: false, timeZoneName: "short" }).formatToParts(date).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day} ${parts.hour}:${parts.minute}:${parts.second} ${parts.timeZoneName}`;
}

function clock(time) { // HH:MM in the chosen zone, for chart axes
  return new Intl.DateTimeFormat("en-GB", { timeZone: zone(), hour: "2-digit", minute: "2-digit", hour12: false })
    .format(new Date(time));
}

function when(time) { return el("time", { datetime: time || null }, fmt(time)); }

// A sentence from the API with each full timestamp in it (2026-03-10T10:21:04Z, 2026-03-10 10:21:04 UTC) shown in
// the console's one format and zone; the rest stays text.
// Not inside an identifier: a run id such as 2026-01-19T06:00Z_abc stays as written.
const STAMP = /(?<![\w-])(\d{4}-\d{2}-\d{2})[T ](\d{2}:\d{2}(?::\d{2})?)(?:\.\d+)?(Z| UTC|[+-]\d{2}:\d{2})(?!\w)/g;
function sentence(text) {
  const out = [];
  let last = 0;
  for (const m of String(text).matchAll(STAMP)) {
    const iso = `${m[1]}T${m[2].length === 5 ? m[2] + ":00" : m[2]}${m[3] === " UTC" ? "Z" : m[3]}`;
    if (Number.isNaN(Date.parse(iso))) continue;
    out.push(String(text).slice(last, m.index), when(iso));
    last = m.index + m[0].length;
  }
  out.push(String(text).slice(last));
  return out;
}

function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.floor(s / 60)} min`;
  if (s < 172800) return `${(s / 3600).toFixed(1)} h`;
  return `${Math.floor(s / 86400)} d`;
}

// How long it has been bad: first bad to the last detector pass (the server's clock), or to resolution.
function age(inc) {
  const end = inc.resolved_at || inc.updated_at;
  if (!inc.first_bad_time || !end) return null;
  return duration(Date.parse(end) - Date.parse(inc.first_bad_time));
}

function na(text) { return el("span", { class: "na" }, text || "n/a"); }

// ---- shared pieces --------------------------------------------------------------------------------------------

function evidenceLink(id, label) {
  return el("a", { class: "cite", href: `#evidence=${encodeURIComponent(id)}`, "data-evidence": id,
                   onclick: (e) => { e.preventDefault(); openEvidence(id); } }, label || id);
}

function citations(ids) {
  const span = el("span", { class: "cites" });
  for (const id of ids || []) span.append(" ", evidenceLink(id));
  return span;
}

function whatChanged(inc) {
  const deploys = inc.correlated_deploys || [];
  if (deploys.length) {
    const d = deploys[0];
    return `deploy ${d.service || ""} ${d.version || d.deploy_ref || ""}`.trim()
      + (deploys.length > 1 ? ` (+${deploys.length - 1})` : "");
  }
  if (inc.correlated_run) return runLabel(inc.correlated_run);
  return null;
}

function runLabel(run) {
  return run.state === "running" ? "run still running" : `run ${run.state || ""}`.trim();
}

function reason(inc) { return inc.reason_code + (inc.field ? ` (${inc.field})` : ""); }

function renderChat(incidentId, wide) {
  const log = el("div", { id: "chat-log", class: "chat-log", "aria-live": "polite" });
  const input = el("input", { id: "chat-question", autocomplete: "off", required: true, "aria-label": "Question",
    placeholder: incidentId ? "Ask why…" : "Ask about any incident, e.g. why is orders_enriched stale?" });
  let session = null;
  const form = el("form", { id: "chat-form" }, input, el("button", { type: "submit" }, "Ask"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    log.append(el("p", { class: "q" }, question));
    input.value = "";
    try {
      const body = { question, session_id: session };
      if (incidentId) body.incident_id = incidentId;
      const answer = await api("/v1/chat", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body) });
      session = answer.session_id;
      const reply = el("div", { class: `a ${answer.has_evidence ? "" : "no-evidence"}` },
        answer.answer.map((s) => el("p", {}, sentence(s.text), citations(s.evidence_ids))));
      if ((answer.next_checks || []).length) {
        reply.append(el("p", { class: "muted" }, "Next checks: ", sentence(answer.next_checks.join("; "))));
      }
      if (String(answer.composer || "").startsWith("default (model failed")) reply.append(composedBy(answer.composer));
      for (const r of answer.related_incidents || []) {
        reply.append(el("p", { class: "muted" }, "Reads like ",
          el("a", { href: `/incidents/${encodeURIComponent(r.incident_id || r.id)}` }, r.incident_id || r.id)));
      }
      log.append(reply);
    } catch (error) {
      log.append(el("p", { class: "error" }, String(error.message)));
    }
  });
  return el("aside", { id: "chat", class: `card chat ${wide ? "chat-page" : ""}` },
    el("h2", {}, incidentId ? "Ask about this incident" : "Ask the copilot"),
    el("p", { class: "muted" }, "Every sentence cites evidence; click an id to open it."), log, form,
    el("div", { id: "evidence-detail", hidden: true }));
}

// ---- incidents list -------------------------------------------------------------------------------------------

function incidentRow(i) {
  const changed = whatChanged(i);
  const downstream = (i.impacted_downstream || []).length;
  const bad = age(i);
  return el("tr", { "data-incident": i.id },
    el("td", { "data-label": "Dataset" }, el("a", { href: `/incidents/${encodeURIComponent(i.id)}` }, i.dataset_urn),
      el("code", { class: "reason" }, reason(i))),
    el("td", { "data-label": "What changed", class: "changed" }, changed || na("nothing correlated")),
    el("td", { "data-label": "Downstream", class: "num downstream",
               title: (i.impacted_downstream || []).join(", ") || null }, String(downstream)),
    el("td", { "data-label": "Bad for", class: "age", title: `since ${fmt(i.first_bad_time)}` }, bad || na()),
    el("td", { "data-label": "Owner" }, i.owner_team || na("no owner"), i.tier === null || i.tier === undefined
      ? "" : ` · tier ${i.tier}`),
    el("td", { "data-label": "Status" }, el("span", { class: `tag ${i.status}` }, i.status.replace("_", " ")),
      i.stale_evidence ? [" ", el("span", { class: "tag stale" }, "stale evidence")] : ""));
}

async function renderList(main) {
  const params = new URLSearchParams(location.search);
  const filters = el("form", { id: "filters", class: "filters" },
    el("label", {}, "Status ", el("select", { name: "status" },
      ["open", "resolved", "false_positive", "all"].map((s) => el("option", { value: s,
        selected: (params.get("status") || "open") === s }, s.replace("_", " "))))),
    el("label", {}, "Team ", el("input", { name: "owner_team", value: params.get("owner_team") || "" })),
    el("label", {}, "Tier ", el("input", { name: "tier", type: "number", min: "0", value: params.get("tier") || "" })),
    el("button", { type: "submit" }, "Filter"));
  filters.addEventListener("submit", (e) => {
    e.preventDefault();
    const query = new URLSearchParams();
    for (const [k, v] of new FormData(filters)) if (v) query.set(k, v);
    history.pushState(null, "", "/?" + query.toString());
    route();
  });
  const body = el("tbody", {});
  const more = el("div", { class: "more" });
  const table = el("table", { id: "incidents", class: "grid cards" },
    el("thead", {}, el("tr", {}, ["Dataset · what failed", "What changed", "Downstream", "Bad for", "Owner", "Status"]
      .map((h) => el("th", {}, h)))), body);
  main.replaceChildren(el("div", { class: "with-chat" },
    el("section", { id: "list" }, el("h1", {}, "Incidents"), filters, table, more), renderChat(null)));
  const query = {};
  for (const key of ["status", "owner_team", "tier"]) if (params.get(key)) query[key] = params.get(key);
  let shown = 0;
  const onPage = (items, next) => {
    shown += items.length;
    body.append(...items.map(incidentRow));
    if (!shown) body.replaceChildren(el("tr", {}, el("td", { colspan: 6 }, "No incidents match.")));
    more.replaceChildren(next ? el("button", { type: "button", onclick: () => next().catch(showError) },
      "Load more") : "");
  };
  await pages("/v1/incidents", query, onPage);
}

// ---- incident page: the five facts first -----------------------------------------------------------------------

function fact(id, title, big, ...rest) {
  return el("section", { id, class: "fact" }, el("h2", {}, title), el("div", {}, el("p", { class: "big" }, big), rest));
}

function renderFacts(inc) {
  const deploys = inc.correlated_deploys || [];
  const run = inc.correlated_run;
  const facts = inc.facts || {};
  const downstream = inc.impacted_downstream || [];
  let detail = null;
  if (inc.bad_rate) {
    detail = `${(inc.bad_rate.after * 100).toFixed(1)}% of records since first bad, `
      + `${(inc.bad_rate.before * 100).toFixed(1)}% before`;
  } else if (inc.expected_watermark) {
    detail = `watermark ${inc.current_watermark || "none"}, expected ${inc.expected_watermark}`;
  }
  let changed;
  if (deploys.length) {
    const d = deploys[0];
    changed = [el("p", { class: "big" }, `${d.service || ""} ${d.version || ""}`.trim()),
      el("p", {}, "deployed ", when(d.time), d.seconds_before_first_bad !== undefined
        ? `, ${duration(d.seconds_before_first_bad * 1000)} before first bad ` : " ", evidenceLink(d.evidence_id, "proof"))];
  } else if (run) {
    changed = [el("p", { class: "big" }, runLabel(run)),
      el("p", {}, run.run_id, " ", run.evidence_id ? evidenceLink(run.evidence_id, "proof") : "")];
  } else {
    changed = [el("p", { class: "big" }, na("nothing correlated")),
      el("p", { class: "muted detail" }, "no deploy or run of the producer in the window")];
  }
  const firstBad = facts.first_bad_evidence_id, lastGood = facts.last_good_evidence_id;
  const bad = age(inc);
  return el("div", { id: "facts" },
    fact("fact-what", "What failed", reason(inc), detail ? el("p", { class: "detail" }, detail) : null),
    fact("fact-since", "Since when", when(inc.first_bad_time),
      el("p", {}, "last good ", when(inc.last_good_time)),
      bad ? el("p", { class: "muted detail" }, `bad for ${bad} at the last check`) : null),
    el("section", { id: "fact-changed", class: "fact" }, el("h2", {}, "What changed"), el("div", {}, changed)),
    fact("fact-who", "Who is hit", downstream.length ? `${downstream.length} downstream` : na("none known"),
      downstream.length ? el("p", { id: "downstream" }, downstream.join(", ")) : null,
      el("p", { class: "muted" }, `${inc.owner_team || "no owner team"}`
        + (inc.tier === null || inc.tier === undefined ? "" : ` · tier ${inc.tier}`), " ",
        inc.runbook_url && /^https?:\/\//.test(inc.runbook_url)
          ? el("a", { href: inc.runbook_url, rel: "noopener noreferrer" }, "runbook") : "")),
    fact("fact-proof", "Proof", `${(inc.evidence_ids || inc.evidence || []).length} records`,
      el("p", {}, firstBad ? ["first bad ", evidenceLink(firstBad, facts.first_bad_ref || firstBad)] : null,
        lastGood ? [" last good ", evidenceLink(lastGood, facts.last_good_ref || lastGood)] : null),
      el("p", { id: "proof-verdict", class: "muted" }, "verdict: building…")));
}

function timelinePoints(inc) {
  const points = [];
  if (inc.last_good_time) points.push(["last good", inc.last_good_time, "good"]);
  for (const d of inc.correlated_deploys || []) points.push([`deploy ${d.version || d.deploy_ref || ""}`, d.time, "change"]);
  if (inc.correlated_run && inc.correlated_run.started_at) {
    points.push([runLabel(inc.correlated_run), inc.correlated_run.started_at, "change"]);
  }
  points.push(["first bad", inc.first_bad_time, "bad"]);
  if (inc.detected_at) points.push(["detected", inc.detected_at, "bad"]);
  points.push([inc.status === "resolved" ? "resolved" : "now (last check)", inc.resolved_at || inc.updated_at, "now"]);
  return points.filter((p) => p[1]).sort((a, b) => Date.parse(a[1]) - Date.parse(b[1]));
}

function renderTimeline(inc) {
  const points = timelinePoints(inc);
  return el("section", { id: "timeline", class: "card" }, el("h2", {}, "Timeline"),
    el("ol", { class: "timeline" }, points.map(([label, time, cls], i) => el("li", { class: cls },
      el("span", { class: "label" }, label), when(time),
      i ? el("span", { class: "gap" }, ` +${duration(Date.parse(time) - Date.parse(points[i - 1][1]))}`) : ""))));
}

// A bad-rate line per minute around first bad, from the gate's stored counters, with deploy markers.
function rateChart(series, w) {
  const pts = series.minutes;
  const h = 200, left = 44, right = 12, top = 22, bottom = 26;
  const t0 = Date.parse(series.start), t1 = Date.parse(series.end);
  const x = (t) => left + ((Date.parse(t) - t0) / Math.max(1, t1 - t0)) * (w - left - right);
  const peak = Math.max(0.01, ...pts.map((p) => p.rate || 0));
  const y = (r) => top + (1 - r / peak) * (h - top - bottom);
  const maxTotal = Math.max(1, ...pts.map((p) => p.total));
  const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": "bad rate per minute" });
  const barW = Math.max(1, (w - left - right) / Math.max(1, pts.length) - 1);
  for (const p of pts) { // volume per minute, faint, behind the rate
    const bh = (p.total / maxTotal) * (h - top - bottom) * 0.35;
    if (bh > 0) chart.append(svg("rect", { class: "vol", x: x(p.minute), y: h - bottom - bh, width: barW, height: bh }));
  }
  chart.append(svg("line", { class: "axis", x1: left, x2: w - right, y1: h - bottom, y2: h - bottom }));
  chart.append(svg("text", { x: left - 4, y: top + 4, "text-anchor": "end" }, `${(peak * 100).toFixed(0)}%`));
  chart.append(svg("text", { x: left - 4, y: h - bottom, "text-anchor": "end" }, "0%"));
  const segments = [[]]; // minutes without records are gaps (not measured), not zeros
  for (const p of pts) {
    if (p.rate === null) { if (segments[segments.length - 1].length) segments.push([]); continue; }
    segments[segments.length - 1].push(`${(x(p.minute) + barW / 2).toFixed(1)},${y(p.rate).toFixed(1)}`);
  }
  const d = segments.filter((seg) => seg.length).map((seg) => "M" + seg.join("L")).join(" ");
  if (d) chart.append(svg("path", { class: "rate", d }));
  const ticks = w < 480 ? 3 : 6;
  for (let i = 0; i <= ticks; i++) {
    const t = new Date(t0 + ((t1 - t0) * i) / ticks).toISOString();
    chart.append(svg("text", { x: x(t), y: h - 8, "text-anchor": i === 0 ? "start" : i === ticks ? "end" : "middle" },
      clock(t)));
  }
  if (series.first_bad_time) {
    const bx = x(series.first_bad_time);
    chart.append(svg("line", { class: "boundary", x1: bx, x2: bx, y1: top - 6, y2: h - bottom }));
    chart.append(svg("text", { x: bx + 3, y: top - 8 }, "first bad"));
  }
  for (const d of series.deploys) {
    const dx = x(d.time);
    chart.append(svg("line", { class: "deploy", x1: dx, x2: dx, y1: top + 8, y2: h - bottom }));
    chart.append(svg("text", { class: "deploy-label", x: dx - 3, y: top + 18, "text-anchor": "end" },
      d.version || d.service || "deploy"));
  }
  return chart;
}

// The watermark each day: when that day's partition landed, against the deadline; a missing day is an ×.
function watermarkChart(series, w) {
  const days = series.days;
  const h = 200, left = 44, right = 12, top = 16, bottom = 26;
  const [dh, dm] = (series.deadline || "00:00").split(":").map(Number);
  const deadline = dh * 60 + dm;
  const local = (t) => { // minutes after local midnight in the policy's zone
    const p = Object.fromEntries(new Intl.DateTimeFormat("en-GB", { timeZone: series.timezone, hour: "2-digit",
      minute: "2-digit", hour12: false }).formatToParts(new Date(t)).map((q) => [q.type, q.value]));
    return (Number(p.hour) % 24) * 60 + Number(p.minute);
  };
  const landed = days.filter((d) => d.landed_at).map((d) => local(d.landed_at));
  const span = Math.max(deadline + 60, ...landed.map((m) => m + 30));
  const x = (i) => left + (i + 0.5) * ((w - left - right) / days.length);
  const y = (m) => top + (m / span) * (h - top - bottom);
  const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": "watermark by day" });
  chart.append(svg("line", { class: "deadline", x1: left, x2: w - right, y1: y(deadline), y2: y(deadline) }));
  chart.append(svg("text", { x: left - 4, y: y(deadline) + 4, "text-anchor": "end" }, series.deadline));
  chart.append(svg("text", { x: left - 4, y: top + 4, "text-anchor": "end" }, "00:00"));
  days.forEach((d, i) => {
    if (d.landed_at) {
      const m = local(d.landed_at);
      const dot = svg("circle", { class: m > deadline ? "late" : "landed", cx: x(i), cy: y(m), r: 5 });
      dot.append(svg("title", {}, `${d.watermark} landed ${fmt(d.landed_at)}`));
      chart.append(dot);
    } else {
      chart.append(svg("text", { class: "missing", x: x(i), y: y(deadline) + 16, "text-anchor": "middle" }, "×"));
    }
    const every = Math.ceil(days.length / Math.max(2, Math.floor((w - left - right) / 44)));
    if ((days.length - 1 - i) % every === 0) {
      chart.append(svg("text", { x: x(i), y: h - 8, "text-anchor": "middle" }, d.day.slice(5)));
    }
  });
  for (const dep of series.deploys) {
    const i = days.findIndex((d) => d.day === new Date(dep.time).toISOString().slice(0, 10));
    if (i < 0) continue;
    chart.append(svg("line", { class: "deploy", x1: x(i) - 8, x2: x(i) - 8, y1: top, y2: h - bottom }));
    chart.append(svg("text", { class: "deploy-label", x: x(i) - 10, y: top + 10, "text-anchor": "end" },
      dep.version || "deploy"));
  }
  return chart;
}

async function renderSeries(slot, id) {
  let series;
  try {
    series = await api(`/v1/incidents/${encodeURIComponent(id)}/series`);
  } catch (error) {
    slot.replaceChildren(el("p", { class: "error" }, String(error.message)));
    return;
  }
  // Drawn at the width it gets, so its text stays readable on a phone.
  const width = Math.max(300, Math.round(slot.getBoundingClientRect().width - 26) || 640);
  if (series.kind === "bad_rate") {
    const measured = series.minutes.filter((p) => p.total > 0).length;
    slot.replaceChildren(el("section", { id: "chart", class: "card chart" },
      el("h2", {}, `Bad rate per minute${series.field ? ` of ${series.field}` : ""}`),
      rateChart(series, width),
      el("p", { class: "legend" }, el("span", {}, `red line: share of records failing with ${series.reason_code}`),
        el("span", {}, "grey bars: records per minute"), el("span", {}, "orange: deploys"),
        el("span", {}, `${measured} of ${series.minutes.length} minutes had records; gaps were not measured`))));
  } else if (series.kind === "watermark") {
    const missing = series.days.filter((d) => !d.landed_at).length;
    slot.replaceChildren(el("section", { id: "chart", class: "card chart" },
      el("h2", {}, `Watermark by day (${series.timezone})`), watermarkChart(series, width),
      el("p", { class: "legend" }, el("span", {}, `dot: when the day's partition landed; dashed: deadline ${series.deadline}`),
        el("span", {}, `× : no partition that day (${missing} of ${series.days.length} days)`),
        series.expected_watermark ? el("span", {}, `expected ${series.expected_watermark}`) : "")));
  } else {
    slot.replaceChildren(el("section", { id: "chart", class: "card chart" }, el("h2", {}, "Chart"),
      na("no stored counters or commits to draw for this incident")));
  }
}

function evidenceRow(e) {
  return el("tr", { "data-evidence": e.evidence_id },
    el("td", { "data-label": "Evidence" }, evidenceLink(e.evidence_id)), el("td", { "data-label": "Type" }, e.type),
    el("td", { "data-label": "Source ref" }, el("code", {}, e.source_ref)), el("td", { "data-label": "Time" }, when(e.time)));
}

// The RCA cites records beyond the incident's own (baseline runs, the deploy): they join the table.
function addEvidence(evidence) {
  const body = document.querySelector("#evidence-table tbody");
  for (const e of evidence || []) {
    if (!body.querySelector(`tr[data-evidence="${CSS.escape(e.evidence_id)}"]`)) body.append(evidenceRow(e));
  }
}

function renderEvidence(evidence) {
  return el("section", { id: "evidence", class: "card" }, el("h2", {}, "Evidence"),
    el("table", { id: "evidence-table", class: "grid cards" },
      el("thead", {}, el("tr", {}, ["Evidence id", "Type", "Source ref", "Time"].map((h) => el("th", {}, h)))),
      el("tbody", {}, evidence.map(evidenceRow))));
}

function renderRca(rca) {
  const inconclusive = rca.verdict !== "cause_identified";
  const cause = rca.most_likely_cause;
  return el("section", { id: "rca", class: `card rca ${inconclusive ? "inconclusive" : ""}` },
    el("h2", {}, "Root cause ", el("span", { class: `tag ${rca.verdict}` }, rca.verdict.replaceAll("_", " "))),
    inconclusive ? el("p", { class: "plain" },
      "Inconclusive: the evidence does not prove a cause. Do not act on a guess; run the next checks below.") : null,
    el("p", { class: "summary" }, sentence(rca.summary)),
    cause ? el("p", { class: "cause" }, el("b", {}, "Most likely cause: "), sentence(cause.statement),
      citations(cause.evidence_ids),
      el("span", { class: "confidence" }, ` confidence ${Math.round(cause.confidence * 100)}%`)) : null,
    el("h3", {}, "Verified claims"),
    rca.claims.length ? el("ul", { class: "claims" },
      rca.claims.map((c) => el("li", {}, sentence(c.text), citations(c.evidence_ids))))
      : na("no claim survived verification"),
    el("h3", {}, "Next checks"), (rca.next_checks || []).length
      ? el("ol", {}, rca.next_checks.map((t) => el("li", {}, sentence(t)))) : na("none"),
    el("h3", {}, "Suggested actions"), (rca.suggested_actions || []).length
      ? el("ol", {}, rca.suggested_actions.map((t) => el("li", {}, t))) : na("none"),
    composedBy(rca.composer));
}

// Who chose the claims: the model's name, or "default (model failed: ...)" when the offline composer stood in.
function composedBy(composer) {
  return el("p", { class: "muted composer" }, `Claims chosen by: ${composer || "default"}; every sentence is ` +
    "written by rca from verified values.");
}

async function openEvidence(id) {
  const box = document.getElementById("evidence-detail") || document.getElementById("main");
  box.hidden = false;
  box.replaceChildren(el("p", {}, `Loading ${id}…`));
  try {
    const record = await api(`/v1/evidence/${encodeURIComponent(id)}`);
    const close = el("button", { type: "button", onclick: () => { box.hidden = true; } }, "Close");
    box.replaceChildren(el("div", { class: "evidence-record" },
      el("h3", {}, "Evidence ", el("code", { class: "evidence-id" }, record.evidence_id), " ",
        box.id === "evidence-detail" ? close : ""),
      el("p", { class: "muted" }, `${record.type} · ${record.source_ref} · `, when(record.event_time)),
      el("pre", { class: "payload" }, JSON.stringify(record, null, 2))));
    box.scrollIntoView({ block: "nearest" });
    document.querySelectorAll("tr.selected").forEach((r) => r.classList.remove("selected"));
    const row = document.querySelector(`tr[data-evidence="${CSS.escape(id)}"]`);
    if (row) row.classList.add("selected");
  } catch (error) {
    box.replaceChildren(el("p", { class: "error" }, String(error.message)));
  }
}

async function renderIncident(main, id) {
  const inc = await api(`/v1/incidents/${encodeURIComponent(id)}`);
  const chartSlot = el("div", { id: "chart-slot" }, el("p", { class: "muted" }, "Drawing the chart…"));
  main.replaceChildren(
    el("div", { class: "incident-head" },
      el("h1", {}, inc.dataset_urn), el("span", { class: `tag ${inc.status}` }, inc.status.replace("_", " ")),
      inc.stale_evidence ? el("span", { class: "tag stale" }, "stale evidence") : "",
      el("p", { class: "subtitle" }, `${inc.kind} · ${inc.id}`)),
    renderFacts(inc),
    el("div", { class: "incident-grid" },
      el("div", { id: "rca-slot" }, el("p", { class: "muted" }, "Building the RCA…")),
      renderChat(inc.id), chartSlot, renderTimeline(inc), renderEvidence(inc.evidence || [])));
  const charted = renderSeries(chartSlot, id);
  try {
    const rca = await api(`/v1/incidents/${encodeURIComponent(id)}/rca`);
    document.getElementById("rca-slot").replaceChildren(renderRca(rca));
    const cause = rca.most_likely_cause;
    document.getElementById("proof-verdict").replaceChildren(el("span", { class: `tag ${rca.verdict}` },
      rca.verdict.replaceAll("_", " ")), cause ? ` ${Math.round(cause.confidence * 100)}% · ` : " · ",
      el("a", { href: "#rca", onclick: (e) => { e.preventDefault(); document.getElementById("rca").scrollIntoView(); } },
        `${rca.claims.length} verified claims`));
    addEvidence(rca.evidence);
  } catch (error) {
    document.getElementById("rca-slot").replaceChildren(el("p", { class: "error" }, String(error.message)));
    document.getElementById("proof-verdict").replaceChildren(na("no RCA"));
  }
  await charted;
  const hash = location.hash.match(/^#evidence=(.+)$/);
  if (hash) openEvidence(decodeURIComponent(hash[1]));
}

// ---- chat page, change requests, readiness ----------------------------------------------------------------------

function renderAsk(main) {
  main.replaceChildren(el("h1", {}, "Ask the copilot"),
    el("p", { class: "muted" }, "Questions about any incident or dataset; answers cite the evidence behind them."),
    renderChat(null, true));
}

async function renderChangeRequests(main) {
  const { items } = await api("/v1/change-requests");
  const decide = (cr, action) => async () => {
    try {
      await api(`/v1/change-requests/${encodeURIComponent(cr.id)}/${action}`, { method: "POST",
        headers: { "Content-Type": "application/json" }, body: "{}" });
      await renderChangeRequests(main);
    } catch (error) {
      showError(error);
    }
  };
  main.replaceChildren(el("h1", {}, "Drift change requests"),
    el("p", { class: "muted" }, "Approving adds the proposed resolution rule and gates the held records; "
      + "deciding needs an admin token."),
    el("table", { id: "change-requests", class: "grid cards" },
      el("thead", {}, el("tr", {}, ["Id", "Topic", "Schema", "Reason", "Held", "Proposal", "Status", ""]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, items.length ? items.map((cr) => el("tr", { "data-cr": cr.id },
        el("td", { "data-label": "Id" }, el("code", {}, cr.id)), el("td", { "data-label": "Topic" }, cr.topic),
        el("td", { "data-label": "Schema" }, cr.schema_id), el("td", { "data-label": "Reason" },
          el("code", {}, cr.reason_code)), el("td", { "data-label": "Held" }, cr.held),
        el("td", { "data-label": "Proposal" }, el("code", {}, JSON.stringify(cr.proposal))),
        el("td", { "data-label": "Status" }, cr.status),
        el("td", {}, cr.status === "open" ? [el("button", { class: "approve", onclick: decide(cr, "approve") }, "Approve"),
          " ", el("button", { class: "reject", onclick: decide(cr, "reject") }, "Reject")] : "")))
        : el("tr", {}, el("td", { colspan: 8 }, "No change requests.")))));
}

async function renderReadiness(main) {
  const criterion = (c) => el("li", { class: c.met === null ? "unmeasured" : c.met ? "met" : "unmet" },
    el("strong", {}, `${c.met === null ? "–" : c.met ? "✓" : "✗"} ${c.name.replace(/_/g, " ")}`), " ",
    c.value === null ? na() : `${Math.round(c.value * 100)}%`, " ", el("span", { class: "muted" }, c.detail));
  const row = (r) => el("tr", { "data-subject": r.subject },
    el("td", { "data-label": "Subject" }, el("code", {}, r.subject)), el("td", { "data-label": "Kind" }, r.kind),
    el("td", { class: "score", "data-label": "Score" }, r.score === null ? na() : `${r.score}%`),
    el("td", {}, el("ul", { class: "criteria" }, r.criteria.map(criterion))),
    el("td", {}, r.backlog.length ? el("ul", { class: "backlog" }, r.backlog.map((b) => el("li", {}, b)))
      : "nothing to do"));
  const body = el("tbody", {});
  const more = el("div", { class: "more" });
  main.replaceChildren(el("h1", {}, "Readiness"),
    el("p", { class: "muted" }, "Minimum-observable readiness per dataset and producer: every criterion, and the "
      + "backlog that would raise the score. n/a: nothing to measure yet, left out of the score."),
    el("table", { id: "readiness", class: "grid cards" },
      el("thead", {}, el("tr", {}, ["Subject", "Kind", "Score", "Criteria", "Backlog"].map((h) => el("th", {}, h)))),
      body), more);
  let shown = 0;
  await pages("/v1/readiness", {}, (items, next) => {  // the server pages readiness: "Load more" for the rest
    shown += items.length;
    body.append(...items.map(row));
    if (!shown) body.replaceChildren(el("tr", {}, el("td", { colspan: 5 }, "No evidence yet.")));
    more.replaceChildren(next ? el("button", { type: "button", onclick: () => next().catch(showError) },
      "Load more") : "");
  });
}

// ---- adoption: the fleet rollout and the platform's KPIs (GET /v1/adoption; /metrics and Grafana show the same) ----

const LINE_COLOURS = ["#2b6cb0", "#c05621", "#2f855a", "#6b46c1", "#b83280", "#2c7a7b"];
const pct = (v) => (v === null || v === undefined ? "n/a" : `${(v * 100).toFixed(2)}%`);
const hrs = (v) => (v === null || v === undefined ? "n/a" : `${Number(v.toFixed(2))} h`);

function onboardingChart(weeks) {
  const w = 640, h = 220, left = 40, right = 90, top = 12, bottom = 28;
  const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": "services onboarded by language" });
  const dates = [...new Set(weeks.map((x) => x.week))].sort();
  const langs = [...new Set(weeks.map((x) => x.language))].sort();
  const peak = Math.max(1, ...weeks.map((x) => x.total));
  const x = (i) => left + (dates.length < 2 ? (w - left - right) / 2 : i * (w - left - right) / (dates.length - 1));
  const y = (v) => h - bottom - v * (h - top - bottom) / peak;
  chart.append(svg("line", { class: "axis", x1: left, x2: w - right, y1: h - bottom, y2: h - bottom }));
  chart.append(svg("text", { x: left - 4, y: top + 4, "text-anchor": "end" }, String(peak)));
  chart.append(svg("text", { x: left - 4, y: h - bottom, "text-anchor": "end" }, "0"));
  dates.forEach((d, i) => chart.append(svg("text", { x: x(i), y: h - 8, "text-anchor": "middle" }, d.slice(5))));
  const labelled = [];  // label heights used, so two languages with the same total do not overwrite each other
  langs.forEach((lang, n) => {
    const points = dates.map((d, i) => [x(i), y((weeks.find((p) => p.week === d && p.language === lang) || {}).total || 0)]);
    const colour = LINE_COLOURS[n % LINE_COLOURS.length];
    chart.append(svg("path", { class: "series", stroke: colour, d: points.map((p, i) => `${i ? "L" : "M"}${p[0]},${p[1]}`).join(" ") }));
    points.forEach((p) => chart.append(svg("circle", { cx: p[0], cy: p[1], r: 3, fill: colour })));
    const last = points[points.length - 1];
    let ly = last[1] + 4;
    while (labelled.some((used) => Math.abs(used - ly) < 12)) ly += 12;
    labelled.push(ly);
    chart.append(svg("text", { class: "series-label", x: last[0] + 6, y: ly, fill: colour },
      `${lang} ${(weeks.filter((p) => p.language === lang).pop() || {}).total || 0}`));
  });
  return chart;
}

function weeklyChart(rows, value, label, fmt) { // one point per ISO week; a week with no value is a gap
  const w = 640, h = 200, left = 56, right = 20, top = 16, bottom = 28;
  const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": label });
  const values = rows.map(value);
  const peak = Math.max(0, ...values.filter((v) => v !== null && v !== undefined)) || 1;
  const x = (i) => left + (rows.length < 2 ? (w - left - right) / 2 : i * (w - left - right) / (rows.length - 1));
  const y = (v) => h - bottom - v * (h - top - bottom) / peak;
  chart.append(svg("line", { class: "axis", x1: left, x2: w - right, y1: h - bottom, y2: h - bottom }));
  chart.append(svg("text", { x: left - 4, y: top + 4, "text-anchor": "end" }, fmt(peak)));
  chart.append(svg("text", { x: left - 4, y: h - bottom, "text-anchor": "end" }, fmt(0)));
  let d = "", pen = false;
  rows.forEach((row, i) => {
    chart.append(svg("text", { x: x(i), y: h - 8, "text-anchor": "middle" }, row.week.slice(5)));
    const v = values[i];
    if (v === null || v === undefined) { pen = false; return; }
    d += `${pen ? "L" : "M"}${x(i)},${y(v)} `;
    pen = true;
    const dot = svg("circle", { class: "week-point", cx: x(i), cy: y(v), r: 4, "data-week": row.week });
    dot.append(svg("title", {}, `week of ${row.week}: ${fmt(v)}`));
    chart.append(dot, svg("text", { class: "point-label", x: x(i), y: y(v) - 8, "text-anchor": "middle" }, fmt(v)));
  });
  if (d) chart.prepend(svg("path", { class: "series", stroke: LINE_COLOURS[0], d: d.trim() }));
  return chart;
}

function barsChart(rows, label, max) { // rows: [{name, value, cls}] as horizontal bars, value in 0..max
  const w = 1280, row = 22, left = 260, right = 110;
  const h = Math.max(1, rows.length) * row + 10;
  const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": label });
  rows.forEach((r, i) => {
    const y = 5 + i * row;
    chart.append(svg("text", { x: left - 6, y: y + 14, "text-anchor": "end" }, r.name));
    const width = max > 0 ? (w - left - right) * Math.min(1, (r.value || 0) / max) : 0;
    chart.append(svg("rect", { class: r.cls || "bar", x: left, y: y + 3, width: Math.max(width, 1), height: row - 8 }));
    chart.append(svg("text", { x: left + Math.max(width, 1) + 4, y: y + 14 }, r.text));
  });
  return chart;
}

function ringsChart(rings) { // one stacked bar per campaign ring: merged, opened, pending, declined, other
  const w = 640, row = 26, left = 190, right = 80, states = ["merged", "opened", "pending", "declined", "other"];
  const h = Math.max(1, rings.length) * row + 26;
  const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": "ring progress" });
  const most = Math.max(1, ...rings.map((r) => r.repos));
  rings.forEach((r, i) => {
    const y = 5 + i * row;
    chart.append(svg("text", { x: left - 6, y: y + 15, "text-anchor": "end" }, `${r.campaign} ${r.ring} (${r.flag})`));
    const on = `staging ${r.staging_on}/${r.repos}, prod ${r.prod_on}/${r.repos}`;
    let at = left;
    for (const state of states) {
      const width = (w - left - right) * r[state] / most;
      if (width > 0) {
        const part = svg("rect", { class: `ring-${state}`, x: at, y: y + 3, width, height: row - 8 });
        part.append(svg("title", {}, `${r[state]} ${state}`));
        chart.append(part);
        at += width;
      }
    }
    const merged = svg("text", { x: at + 4, y: y + 15 }, `${r.merged}/${r.repos} merged`);
    merged.append(svg("title", {}, `flag on: ${on}`));
    chart.append(merged);
  });
  states.forEach((state, n) => {
    chart.append(svg("rect", { class: `ring-${state}`, x: left + n * 90, y: h - 16, width: 10, height: 10 }));
    chart.append(svg("text", { x: left + n * 90 + 14, y: h - 7 }, state));
  });
  return chart;
}

function tile(id, name, value, note) {
  return el("div", { class: "card tile", id }, el("div", { class: "muted" }, name), el("div", { class: "value" }, value),
    note ? el("div", { class: "muted small" }, note) : null);
}

async function renderAdoption(main) {
  const r = await api("/v1/adoption");
  const p = r.platform;
  const sdk = r.sdk.slice().sort((a, b) => (b.drop_rate || 0) - (a.drop_rate || 0) || a.producer_urn.localeCompare(b.producer_urn));
  const worst = Math.max(0.01, ...sdk.map((s) => s.drop_rate || 0));
  main.replaceChildren(el("h1", {}, "Adoption"),
    el("p", { class: "muted" }, "The fleet rollout and the platform's own KPIs at ", when(r.at),
      ". The same figures are on /metrics (rca_adoption_*, rca_platform_*) and `rca rollout status`."),
    el("section", { id: "kpis", class: "tiles" },
      tile("kpi-boundaries", "Incidents with evidence-backed boundaries", pct(p.evidence_backed_boundaries), `of ${p.incidents}`),
      tile("kpi-deploy", "Incidents with a correlated deploy", pct(p.correlated_deploy)),
      tile("kpi-drift", "Drift remediation time (median)", hrs(p.drift_remediation_hours)),
      tile("kpi-fp", "False-positive rate", pct(p.false_positive_rate)),
      tile("kpi-inconclusive", "Inconclusive RCA rate", pct(p.inconclusive_rate)),
      tile("kpi-ttm", "Median PR time to merge", hrs(r.median_time_to_merge_hours)),
      tile("kpi-revert", "Revert rate", pct(r.reverts.rate),
        `${r.reverts.reverted_prs} removal PRs, ${r.reverts.rolled_back} rolled back, of ${r.reverts.onboarded}`)),
    el("div", { class: "adoption-grid" },
      el("section", { id: "chart-onboarding", class: "card chart" }, el("h2", {}, "Services onboarded by language"),
        r.onboarding.length ? onboardingChart(r.onboarding) : el("p", { class: "muted" }, "No onboarding PR merged yet.")),
      el("section", { id: "chart-ttm", class: "card chart" }, el("h2", {}, "Median PR time to merge, per week of merge"),
        r.time_to_merge_weekly.length ? weeklyChart(r.time_to_merge_weekly, (x) => x.median_hours,
          "median PR time to merge per week", hrs) : el("p", { class: "muted" }, "No onboarding PR merged yet.")),
      el("section", { id: "chart-reverts", class: "card chart" }, el("h2", {}, "Revert rate at each week's end"),
        r.reverts_weekly.length ? weeklyChart(r.reverts_weekly, (x) => x.rate, "revert rate per week", pct)
          : el("p", { class: "muted" }, "No service onboarded yet.")),
      el("section", { id: "chart-rings", class: "card chart" }, el("h2", {}, "Ring progress"),
        r.rings.length ? ringsChart(r.rings) : el("p", { class: "muted" }, "No campaign yet (rca rollout plan).")),
      el("section", { id: "chart-sdk", class: "card chart wide" }, el("h2", {}, "SDK drop and error rate per service"),
        sdk.length ? barsChart(sdk.flatMap((s) => [
          { name: s.producer_urn, value: s.drop_rate, cls: (s.drop_rate || 0) > 0.01 ? "bar bad" : "bar",
            text: `drop ${pct(s.drop_rate)}` },
          { name: "", value: s.error_rate, cls: "bar error", text: `error ${pct(s.error_rate)}` }]), "SDK drop rate", worst)
          : el("p", { class: "muted" }, "No SdkHealth yet (AUTOPILOT_HEALTH_INTERVAL)."))),
    el("table", { id: "sdk-table", class: "grid cards" },
      el("thead", {}, el("tr", {}, ["Service", "Language", "SDK", "Delivered", "Dropped", "Drop rate", "Error rate",
        "Circuit"].map((x) => el("th", {}, x)))),
      el("tbody", {}, sdk.map((s) => el("tr", { "data-producer": s.producer_urn },
        el("td", { "data-label": "Service" }, el("code", {}, s.producer_urn)), el("td", { "data-label": "Language" }, s.language),
        el("td", { "data-label": "SDK" }, s.sdk_version), el("td", { class: "num", "data-label": "Delivered" }, s.delivered),
        el("td", { class: "num", "data-label": "Dropped" }, s.dropped), el("td", { class: "num drop", "data-label": "Drop rate" }, pct(s.drop_rate)),
        el("td", { class: "num", "data-label": "Error rate" }, pct(s.error_rate)), el("td", { "data-label": "Circuit" }, s.circuit))))),
    el("h2", { id: "flags-heading" }, "Flag per service and environment"),
    r.flags.length ? el("table", { id: "flags-table", class: "grid cards" },
      el("thead", {}, el("tr", {}, ["Campaign", "Ring", "Service", "State", "Staging", "Prod"].map((x) => el("th", {}, x)))),
      el("tbody", {}, r.flags.map((f) => el("tr", { "data-repo": f.repo },
        el("td", { "data-label": "Campaign" }, f.campaign), el("td", { "data-label": "Ring" }, f.ring),
        el("td", { "data-label": "Service" }, el("code", {}, f.producer_urn || f.repo)),
        el("td", { "data-label": "State" }, f.status),
        ...["staging", "prod"].map((env) => el("td", { class: `flag ${f[env] ? "on" : "off"}`, "data-env": env,
          "data-label": env[0].toUpperCase() + env.slice(1) }, f[env] ? "on" : "off",
          f[env] ? el("span", { class: "muted small" }, " since ", when(f[env])) : null))))))
      : el("p", { class: "muted" }, "No campaign yet (rca rollout plan)."));
}

// ---- routing ------------------------------------------------------------------------------------------------------

async function route() {
  showError(null);
  const main = document.getElementById("main");
  const path = location.pathname;
  for (const a of document.querySelectorAll("#nav a")) {
    const here = a.getAttribute("href") === "/" ? path === "/" || path.startsWith("/incidents") : path === a.getAttribute("href");
    a.classList.toggle("current", here);
  }
  try {
    let match;
    if ((match = path.match(/^\/incidents\/([^/]+)$/))) await renderIncident(main, decodeURIComponent(match[1]));
    else if ((match = path.match(/^\/evidence\/([^/]+)$/))) {
      main.replaceChildren(el("h1", {}, "Evidence"));
      await openEvidence(decodeURIComponent(match[1]));
    } else if (path === "/ask") renderAsk(main);
    else if (path === "/change-requests") await renderChangeRequests(main);
    else if (path === "/readiness") await renderReadiness(main);
    else if (path === "/adoption") await renderAdoption(main);
    else await renderList(main);
  } catch (error) {
    if (error.status === 401) main.replaceChildren();
    showError(error);
  }
}

// ---- the token: checked with the server before it is kept ---------------------------------------------------------

function tokenState(text, cls) {
  const state = document.getElementById("token-state");
  state.textContent = text;
  document.getElementById("token-toggle").className = cls || "";
}

function openTokenPanel(open) {
  const panel = document.getElementById("token-panel");
  panel.hidden = !open;
  document.getElementById("token-toggle").setAttribute("aria-expanded", String(open));
  if (open) document.getElementById("token").focus();
}

async function checkSavedToken() {
  const saved = localStorage.getItem(TOKEN_KEY);
  try {
    who = await api("/v1/whoami", {}, saved || null);
    if (who.name === "auth-disabled") tokenState("No token needed", "");
    else tokenState(`${who.name} (${who.role})`, "");
  } catch (error) {
    who = null;
    if (error.status === 401) tokenState(saved ? "Token rejected" : "No token", saved ? "rejected" : "none");
  }
}

function setupToken() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const help = document.getElementById("token-help");
  document.getElementById("token-toggle").addEventListener("click", () => {
    openTokenPanel(document.getElementById("token-panel").hidden);
  });
  document.getElementById("token-forget").addEventListener("click", () => {
    localStorage.removeItem(TOKEN_KEY);
    who = null;
    tokenState("No token", "none");
    route();
  });
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const candidate = input.value.trim();
    if (!candidate) return;
    try {
      const accepted = await api("/v1/whoami", {}, candidate);
      localStorage.setItem(TOKEN_KEY, candidate);
      who = accepted;
      input.value = "";
      tokenState(`${who.name} (${who.role})`, "");
      help.textContent = `Saved: ${who.name}, a ${who.role} token.`;
      openTokenPanel(false);
      route();
    } catch (error) {
      // Not saved: a token the server refuses must not look kept.
      tokenState(localStorage.getItem(TOKEN_KEY) ? "Token rejected" : "No token", "rejected");
      help.textContent = error.status === 401
        ? "That token was not accepted (unknown or revoked), so it was not saved. Check it was copied whole, or ask "
          + "an rca admin for a new one."
        : String(error.message);
    }
  });
}

function setupZone() {
  const button = document.getElementById("tz-toggle");
  const show = () => { button.textContent = zone() ? "UTC" : "Local time"; };
  button.addEventListener("click", () => {
    localStorage.setItem(ZONE_KEY, zone() ? "local" : "utc");
    show();
    route();
  });
  show();
}

document.addEventListener("DOMContentLoaded", async () => {
  setupToken();
  setupZone();
  window.addEventListener("popstate", route);
  await checkSavedToken();
  route();
});
