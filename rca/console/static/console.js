// The rca console: plain DOM calls against the REST API. Every text from the API goes in through textContent
// (evidence payloads are untrusted); no framework, nothing loaded from elsewhere.
"use strict";

const TOKEN_KEY = "rca.token";
const SVG = "http://www.w3.org/2000/svg";

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === null || v === undefined || v === false) continue;
    if (k === "class") node.className = v;
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function svg(tag, attrs, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) node.setAttribute(k, String(v));
  if (text !== undefined) node.textContent = text;
  return node;
}

async function api(path, options) {
  const headers = Object.assign({ Accept: "application/json" }, (options && options.headers) || {});
  const token = localStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const response = await fetch(path, Object.assign({}, options, { headers }));
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = body.message || (body.detail && JSON.stringify(body.detail)) || response.statusText;
    throw new Error(`${response.status}: ${message}`);
  }
  return body;
}

// Every page of a paged list (/v1/incidents, /v1/readiness): follows next_cursor to the last page.
async function apiAll(path) {
  const items = [];
  let cursor = null;
  do {
    const page = await api(cursor ? `${path}${path.includes("?") ? "&" : "?"}cursor=${encodeURIComponent(cursor)}` : path);
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return { items };
}

function showError(error) {
  const box = document.getElementById("error");
  box.textContent = error ? String(error.message || error) : "";
  box.hidden = !error;
}

function fmt(time) {
  if (!time) return "–";
  return String(time).replace("T", " ").replace("Z", " UTC");
}

function evidenceLink(id) {
  return el("a", { class: "cite", href: `#evidence=${id}`, "data-evidence": id,
                   onclick: (e) => { e.preventDefault(); openEvidence(id); } }, id);
}

function citations(ids) {
  const span = el("span", { class: "cites" });
  for (const id of ids || []) span.append(" ", evidenceLink(id));
  return span;
}

// ---- incidents list ---------------------------------------------------------------------------------------

async function renderList(main) {
  const params = new URLSearchParams(location.search);
  const filters = el("form", { id: "filters", class: "filters" },
    el("label", {}, "Status ", el("select", { name: "status" },
      ["open", "resolved", "all"].map((s) => el("option", { value: s, selected: params.get("status") === s }, s)))),
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
  const query = new URLSearchParams();
  for (const key of ["status", "owner_team", "tier"]) if (params.get(key)) query.set(key, params.get(key));
  query.set("limit", "1000");
  const { items } = await apiAll("/v1/incidents?" + query.toString());
  const rows = items.map((i) => el("tr", {},
    el("td", {}, el("a", { href: `/incidents/${encodeURIComponent(i.id)}` }, i.dataset_urn)),
    el("td", {}, i.kind), el("td", {}, el("code", {}, i.reason_code)), el("td", {}, i.owner_team || "–"),
    el("td", {}, i.tier === null ? "–" : `tier ${i.tier}`), el("td", {}, fmt(i.first_bad_time)),
    el("td", {}, i.stale_evidence ? el("span", { class: "tag stale" }, "stale evidence") : ""),
    el("td", {}, el("span", { class: `tag ${i.status}` }, i.status))));
  main.replaceChildren(el("h1", {}, "Incidents"), filters,
    el("table", { id: "incidents", class: "grid" },
      el("thead", {}, el("tr", {}, ["Dataset", "Kind", "Reason", "Owner team", "Tier", "First bad", "", "Status"]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, rows.length ? rows : el("tr", {}, el("td", { colspan: 8 }, "No incidents match.")))));
}

// ---- incident page ----------------------------------------------------------------------------------------

function timelinePoints(inc) {
  const points = [];
  if (inc.last_good_time) points.push(["last good", inc.last_good_time, "good"]);
  for (const d of inc.correlated_deploys || []) points.push([`deploy ${d.version || d.deploy_ref || ""}`, d.time, "change"]);
  if (inc.correlated_run && inc.correlated_run.started_at) {
    points.push([`run ${inc.correlated_run.state}`, inc.correlated_run.started_at, "change"]);
  }
  points.push(["first bad", inc.first_bad_time, "bad"]);
  if (inc.detected_at) points.push(["detected", inc.detected_at, "bad"]);
  points.push([inc.status === "resolved" ? "resolved" : "now (last check)", inc.resolved_at || inc.updated_at, "now"]);
  return points.filter((p) => p[1]).sort((a, b) => Date.parse(a[1]) - Date.parse(b[1]));
}

function delta(ms) {
  const s = Math.round(ms / 1000);
  if (s < 120) return `+${s} s`;
  if (s < 7200) return `+${Math.round(s / 60)} min`;
  if (s < 172800) return `+${(s / 3600).toFixed(1)} h`;
  return `+${Math.round(s / 86400)} d`;
}

// Evenly spaced in time order (a deploy one minute before first bad and a detection ten minutes later would
// otherwise sit on top of each other); the gap between two points is written on the axis.
function renderTimeline(inc) {
  const points = timelinePoints(inc);
  const width = 900, pad = 70, step = points.length > 1 ? (width - 2 * pad) / (points.length - 1) : 0;
  const chart = svg("svg", { viewBox: `0 0 ${width} 86`, class: "timeline-svg", role: "img",
                             "aria-label": "incident timeline" });
  chart.append(svg("line", { x1: pad, x2: width - pad, y1: 30, y2: 30, class: "axis" }));
  points.forEach(([label, time, cls], i) => {
    const px = pad + i * step;
    if (i > 0) {
      chart.append(svg("text", { x: px - step / 2, y: 22, "text-anchor": "middle", class: "gap" },
        delta(Date.parse(time) - Date.parse(points[i - 1][1]))));
    }
    chart.append(svg("circle", { cx: px, cy: 30, r: 7, class: `dot ${cls}` }));
    chart.append(svg("text", { x: px, y: 58, "text-anchor": "middle", class: `label ${cls}` }, label));
    chart.append(svg("text", { x: px, y: 76, "text-anchor": "middle", class: "time" }, fmt(time)));
  });
  return el("section", { id: "timeline", class: "card" }, el("h2", {}, "Timeline"), chart);
}

function renderChart(inc) {
  if (inc.bad_rate) {
    const w = 360, h = 150, bars = [["before", inc.bad_rate.before], ["after", inc.bad_rate.after]];
    const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, id: "chart", role: "img", "aria-label": "bad rate" });
    bars.forEach(([label, rate], i) => {
      const bh = Math.max(2, rate * (h - 50));
      const bx = 60 + i * 140;
      chart.append(svg("rect", { x: bx, y: h - 25 - bh, width: 80, height: bh, class: i ? "bar bad" : "bar good" }));
      chart.append(svg("text", { x: bx + 40, y: h - 30 - bh, "text-anchor": "middle" }, `${(rate * 100).toFixed(1)}%`));
      chart.append(svg("text", { x: bx + 40, y: h - 8, "text-anchor": "middle" }, `${label} first bad`));
    });
    return el("section", { class: "card" }, el("h2", {}, `Bad rate${inc.field ? " of " + inc.field : ""}`), chart);
  }
  if (inc.expected_watermark) {
    const w = 360, h = 110;
    const chart = svg("svg", { viewBox: `0 0 ${w} ${h}`, id: "chart", role: "img", "aria-label": "watermark" });
    chart.append(svg("rect", { x: 20, y: 20, width: 240, height: 24, class: "bar good" }));
    chart.append(svg("text", { x: 26, y: 37 }, `current ${inc.current_watermark || "none"}`));
    chart.append(svg("rect", { x: 20, y: 60, width: 320, height: 24, class: "bar expected" }));
    chart.append(svg("text", { x: 26, y: 77 }, `expected ${inc.expected_watermark}`));
    return el("section", { class: "card" }, el("h2", {}, "Watermark"), chart);
  }
  return null;
}

function renderFacts(inc) {
  const deploys = inc.correlated_deploys || [];
  const run = inc.correlated_run;
  return el("section", { class: "card facts" }, el("h2", {}, "What changed, who is hit"),
    el("dl", {},
      el("dt", {}, "Correlated deploy"),
      el("dd", { id: "correlated-deploy" }, deploys.length ? deploys.map((d) => el("div", {},
        `${d.service || ""} ${d.version || ""} (${d.deploy_ref || ""}) at ${fmt(d.time)}, `
        + `${d.seconds_before_first_bad} s before first bad `, evidenceLink(d.evidence_id))) : "none correlated"),
      el("dt", {}, "Correlated run"),
      el("dd", {}, run ? el("span", {}, `${run.run_id} (${run.state}) `, evidenceLink(run.evidence_id)) : "none"),
      el("dt", {}, "Impacted downstream"),
      el("dd", { id: "downstream" }, (inc.impacted_downstream || []).length
        ? el("ul", {}, inc.impacted_downstream.map((d) => el("li", {}, d))) : "none known"),
      el("dt", {}, "Owner"),
      el("dd", {}, `${inc.owner_team || "unknown"}${inc.tier === null ? "" : ", tier " + inc.tier} `,
        inc.runbook_url && /^https?:\/\//.test(inc.runbook_url)
          ? el("a", { href: inc.runbook_url, rel: "noopener noreferrer" }, "runbook") : "")));
}

function evidenceRow(e) {
  return el("tr", { "data-evidence": e.evidence_id }, el("td", {}, evidenceLink(e.evidence_id)), el("td", {}, e.type),
    el("td", {}, el("code", {}, e.source_ref)), el("td", {}, fmt(e.time)));
}

// The RCA cites records beyond the incident's own (baseline runs, the deploy): they join the table.
function addEvidence(evidence) {
  const body = document.querySelector("#evidence-table tbody");
  for (const e of evidence || []) {
    if (!body.querySelector(`tr[data-evidence="${CSS.escape(e.evidence_id)}"]`)) body.append(evidenceRow(e));
  }
}

function renderEvidence(evidence) {
  return el("section", { class: "card" }, el("h2", {}, "Evidence"),
    el("table", { id: "evidence-table", class: "grid" },
      el("thead", {}, el("tr", {}, ["Evidence id", "Type", "Source ref", "Time"].map((h) => el("th", {}, h)))),
      el("tbody", {}, evidence.map(evidenceRow))),
    el("div", { id: "evidence-detail", hidden: true }));
}

function renderRca(rca) {
  const inconclusive = rca.verdict !== "cause_identified";
  const cause = rca.most_likely_cause;
  return el("section", { id: "rca", class: `card rca ${inconclusive ? "inconclusive" : ""}` },
    el("h2", {}, "Root cause ", el("span", { class: `tag verdict ${rca.verdict}` }, rca.verdict.replaceAll("_", " "))),
    inconclusive ? el("p", { class: "plain" },
      "Inconclusive: the evidence does not prove a cause. Do not act on a guess; run the next checks below.") : null,
    el("p", { class: "summary" }, rca.summary),
    cause ? el("p", { class: "cause" }, el("b", {}, "Most likely cause: "), cause.statement, citations(cause.evidence_ids),
      el("span", { class: "confidence" }, ` confidence ${Math.round(cause.confidence * 100)}%`)) : null,
    el("h3", {}, "Verified claims"),
    el("ul", { class: "claims" }, rca.claims.map((c) => el("li", {}, c.text, citations(c.evidence_ids)))),
    el("h3", {}, "Next checks"), el("ol", {}, (rca.next_checks || []).map((t) => el("li", {}, t))),
    el("h3", {}, "Suggested actions"), el("ol", {}, (rca.suggested_actions || []).map((t) => el("li", {}, t))));
}

function renderChat(incidentId) {
  const log = el("div", { id: "chat-log", class: "chat-log", "aria-live": "polite" });
  const input = el("input", { id: "chat-question", placeholder: "Ask why…", autocomplete: "off", required: true });
  let session = null;
  const form = el("form", { id: "chat-form" }, input, el("button", { type: "submit" }, "Ask"));
  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    const question = input.value.trim();
    if (!question) return;
    log.append(el("p", { class: "q" }, question));
    input.value = "";
    try {
      const answer = await api("/v1/chat", { method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ question, incident_id: incidentId, session_id: session }) });
      session = answer.session_id;
      const reply = el("div", { class: `a ${answer.has_evidence ? "" : "no-evidence"}` },
        answer.answer.map((s) => el("p", {}, s.text, citations(s.evidence_ids))));
      if ((answer.next_checks || []).length) {
        reply.append(el("p", { class: "muted" }, "Next checks: " + answer.next_checks.join("; ")));
      }
      log.append(reply);
    } catch (error) {
      log.append(el("p", { class: "error" }, String(error.message)));
    }
  });
  return el("aside", { id: "chat", class: "card chat" }, el("h2", {}, "Ask the copilot"),
    el("p", { class: "muted" }, "Every sentence cites evidence; click an id to open it."), log, form);
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
  main.replaceChildren(
    el("h1", {}, inc.dataset_urn, " ", el("span", { class: `tag ${inc.status}` }, inc.status)),
    el("p", { class: "subtitle" }, el("code", {}, inc.reason_code), ` · ${inc.kind} · ${inc.id} · first bad `
      + fmt(inc.first_bad_time), inc.stale_evidence ? el("span", { class: "tag stale" }, "stale evidence") : ""),
    el("div", { class: "layout" },
      el("div", { class: "col", id: "incident-body" }, renderTimeline(inc), el("div", { id: "rca-slot" },
        el("p", { class: "muted" }, "Building the RCA…")), el("div", { class: "row" }, renderChart(inc),
        renderFacts(inc)), renderEvidence(inc.evidence || [])),
      renderChat(inc.id)));
  try {
    const rca = await api(`/v1/incidents/${encodeURIComponent(id)}/rca`);
    document.getElementById("rca-slot").replaceChildren(renderRca(rca));
    addEvidence(rca.evidence);
  } catch (error) {
    document.getElementById("rca-slot").replaceChildren(el("p", { class: "error" }, String(error.message)));
  }
  const hash = location.hash.match(/^#evidence=(.+)$/);
  if (hash) openEvidence(decodeURIComponent(hash[1]));
}

// ---- change requests --------------------------------------------------------------------------------------

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
    el("table", { id: "change-requests", class: "grid" },
      el("thead", {}, el("tr", {}, ["Id", "Topic", "Schema", "Reason", "Held", "Proposal", "Status", ""]
        .map((h) => el("th", {}, h)))),
      el("tbody", {}, items.length ? items.map((cr) => el("tr", { "data-cr": cr.id },
        el("td", {}, el("code", {}, cr.id)), el("td", {}, cr.topic), el("td", {}, cr.schema_id),
        el("td", {}, el("code", {}, cr.reason_code)), el("td", {}, cr.held),
        el("td", {}, el("code", {}, JSON.stringify(cr.proposal))), el("td", {}, cr.status),
        el("td", {}, cr.status === "open" ? [el("button", { class: "approve", onclick: decide(cr, "approve") }, "Approve"),
          " ", el("button", { class: "reject", onclick: decide(cr, "reject") }, "Reject")] : "")))
        : el("tr", {}, el("td", { colspan: 8 }, "No change requests.")))));
}

// ---- readiness --------------------------------------------------------------------------------------------

async function renderReadiness(main) {
  const { items } = await apiAll("/v1/readiness?limit=5000");
  const criterion = (c) => el("li", { class: c.met ? "met" : "unmet" },
    el("strong", {}, `${c.met ? "✓" : "✗"} ${c.name.replace(/_/g, " ")}`), ` ${Math.round(c.value * 100)}% `,
    el("span", { class: "muted" }, c.detail));
  main.replaceChildren(el("h1", {}, "Readiness"),
    el("p", { class: "muted" }, "Minimum-observable readiness per dataset and producer: every criterion, and the "
      + "backlog that would raise the score."),
    el("table", { id: "readiness", class: "grid" },
      el("thead", {}, el("tr", {}, ["Subject", "Kind", "Score", "Criteria", "Backlog"].map((h) => el("th", {}, h)))),
      el("tbody", {}, items.length ? items.map((r) => el("tr", { "data-subject": r.subject },
        el("td", {}, el("code", {}, r.subject)), el("td", {}, r.kind), el("td", { class: "score" }, `${r.score}%`),
        el("td", {}, el("ul", { class: "criteria" }, r.criteria.map(criterion))),
        el("td", {}, r.backlog.length ? el("ul", { class: "backlog" }, r.backlog.map((b) => el("li", {}, b)))
          : "nothing to do"))) : el("tr", {}, el("td", { colspan: 5 }, "No evidence yet.")))));
}

// ---- routing ----------------------------------------------------------------------------------------------

async function route() {
  showError(null);
  const main = document.getElementById("main");
  const path = location.pathname;
  try {
    let match;
    if ((match = path.match(/^\/incidents\/([^/]+)$/))) await renderIncident(main, decodeURIComponent(match[1]));
    else if ((match = path.match(/^\/evidence\/([^/]+)$/))) {
      main.replaceChildren(el("h1", {}, "Evidence"));
      await openEvidence(decodeURIComponent(match[1]));
    } else if (path === "/change-requests") await renderChangeRequests(main);
    else if (path === "/readiness") await renderReadiness(main);
    else await renderList(main);
  } catch (error) {
    showError(error);
  }
}

function setupToken() {
  const form = document.getElementById("token-form");
  const input = document.getElementById("token");
  const state = document.getElementById("token-state");
  const show = () => { state.textContent = localStorage.getItem(TOKEN_KEY) ? "saved" : "none"; };
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (input.value.trim()) localStorage.setItem(TOKEN_KEY, input.value.trim());
    else localStorage.removeItem(TOKEN_KEY);
    input.value = "";
    show();
    route();
  });
  show();
}

document.addEventListener("DOMContentLoaded", () => {
  setupToken();
  window.addEventListener("popstate", route);
  route();
});
