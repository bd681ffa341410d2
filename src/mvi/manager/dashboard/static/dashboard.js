// The mvi dashboard's own script: live log, plots, deploy, kill confirmation.
// No inline scripts in the pages; everything is loaded from this manager.
"use strict";

const LEVELS = ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"];
const LEVEL_RE = /\b(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL|FATAL)\b/;

function csrfToken() {
  const headers = JSON.parse(document.body.getAttribute("hx-headers") || "{}");
  return headers["X-CSRF-Token"] || "";
}

function levelOf(line) {
  const found = LEVEL_RE.exec(line);
  if (!found) return "INFO";
  return { WARN: "WARNING", FATAL: "CRITICAL" }[found[1]] || found[1];
}

function liveLog() {
  const pane = document.getElementById("log");
  if (!pane) return;
  const level = document.getElementById("log-level");
  const search = document.getElementById("log-search");
  const state = document.getElementById("log-state");
  const maxLines = 2000;
  const visible = (div) => {
    const min = LEVELS.indexOf(level.value);
    const text = search.value.toLowerCase();
    return LEVELS.indexOf(div.dataset.level) >= min && (!text || div.textContent.toLowerCase().includes(text));
  };
  const refilter = () => { for (const div of pane.children) div.hidden = !visible(div); };
  level.addEventListener("change", refilter);
  search.addEventListener("input", refilter);
  const source = new EventSource(pane.dataset.source);
  source.onopen = () => { state.textContent = "live"; };
  source.onerror = () => { state.textContent = "reconnecting…"; };
  source.onmessage = (event) => {
    const div = document.createElement("div");
    div.textContent = event.data;
    div.dataset.level = levelOf(event.data);
    div.className = "line level-" + div.dataset.level.toLowerCase();
    div.hidden = !visible(div);
    const atBottom = pane.scrollTop + pane.clientHeight >= pane.scrollHeight - 4;
    pane.appendChild(div);
    while (pane.children.length > maxLines) pane.removeChild(pane.firstChild);
    if (atBottom) pane.scrollTop = pane.scrollHeight;
  };
}

function plots() {
  const box = document.getElementById("plots");
  if (!box) return;
  const range = document.getElementById("mon-range");
  const csv = document.getElementById("mon-csv");
  const state = document.getElementById("mon-state");
  const draw = async () => {
    csv.href = csv.href.replace(/range=[^&]*/, "range=" + encodeURIComponent(range.value));
    state.textContent = "loading…";
    const answer = await fetch(box.dataset.source + "?range=" + encodeURIComponent(range.value));
    const body = await answer.json();
    box.replaceChildren();
    const names = Object.keys(body.series || {});
    state.textContent = answer.ok ? (names.length ? "" : "no numeric data in this range") : (body.detail || "no data");
    for (const name of names) {
      const figure = document.createElement("figure");
      figure.className = "plot";
      figure.dataset.variable = name;
      figure.dataset.points = String(body.series[name][0].length);
      box.appendChild(figure);
      const width = Math.max(280, Math.min(box.clientWidth - 8, 1100));
      new uPlot({
        title: name, width: width, height: 220,
        series: [{}, { label: name, stroke: "#2563eb", points: { show: true, size: 5 } }],
      }, body.series[name], figure);
    }
  };
  range.addEventListener("change", draw);
  draw();
}

function sparks(root) {
  for (const figure of root.querySelectorAll("figure.spark")) {
    if (figure.dataset.drawn) continue;
    figure.dataset.drawn = "1";
    const samples = JSON.parse(figure.dataset.samples || "[]");
    if (samples.length < 1) continue;
    const x = samples.map((s) => s.at);
    const mirrored = samples.map((s) => s.mirrored);
    const equal = samples.map((s) => (s.equal_share === null ? null : s.equal_share * 100));
    new uPlot({
      width: Math.max(260, Math.min(figure.parentElement.clientWidth - 16, 700)), height: 140,
      series: [{}, { label: "mirrored", stroke: "#2563eb", points: { show: true } },
        { label: "equal %", stroke: "#16a34a", scale: "%", points: { show: true } }],
      axes: [{}, {}, { side: 1, scale: "%" }],
    }, [x, mirrored, equal], figure);
  }
}

function killConfirmation() {
  for (const form of document.querySelectorAll("form.kill-form")) {
    form.addEventListener("submit", (event) => {
      const name = form.dataset.confirmName;
      if (!window.confirm("Kill " + name + "? Its code and logs are deleted.")) event.preventDefault();
    });
  }
}

function deploy() {
  const form = document.getElementById("deploy-form");
  if (!form) return;
  const log = document.getElementById("deploy-log");
  const state = document.getElementById("deploy-state");
  const add = (text) => { log.textContent += text + "\n"; log.scrollTop = log.scrollHeight; };
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = form.elements.name.value.trim();
    const version = form.elements.version.value.trim();
    const file = form.elements.archive.files[0];
    if (!file) return;
    log.textContent = "";
    state.textContent = "uploading " + file.name + "…";
    const after = Date.now() / 1000 - 5;
    const query = new URLSearchParams({ name, version, after: String(after) });
    const events = new EventSource("/dashboard/deploy/events?" + query);
    events.onmessage = (e) => add(e.data);
    events.addEventListener("outcome", () => events.close());
    const params = new URLSearchParams({ wait: "300" });
    if (form.elements.replace.checked) params.set("replace", "true");
    try {
      const answer = await fetch(`/api/services/${encodeURIComponent(name)}/${encodeURIComponent(version)}?` + params, {
        method: "POST", body: file,
        headers: { "content-type": "application/gzip", "X-CSRF-Token": csrfToken() },
      });
      const body = await answer.json();
      if (answer.ok) {
        const status = body.service.status;
        state.innerHTML = "";
        const link = document.createElement("a");
        link.href = `/dashboard/services/${name}/${version}`;
        link.textContent = `${name} ${version}`;
        state.append(link, document.createTextNode(" is " + status + (body.settled ? "" : " (still settling)")));
        state.className = status === "running" ? "ok" : "error";
      } else {
        state.textContent = "Deploy failed (" + answer.status + "): " + body.detail;
        state.className = "error";
        for (const line of body.lines || []) add(line);
      }
    } catch (error) {
      state.textContent = "Upload failed: " + error;
      state.className = "error";
    } finally {
      setTimeout(() => events.close(), 2000);
    }
  });
}

document.addEventListener("DOMContentLoaded", () => {
  liveLog();
  plots();
  sparks(document);
  killConfirmation();
  deploy();
  document.body.addEventListener("htmx:afterSwap", (event) => sparks(event.target));
});
