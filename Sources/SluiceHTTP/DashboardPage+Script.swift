// DashboardPage+Script: the dashboard's JavaScript: API calls, readable values (relative times
// with the absolute one on hover, durations in ms/s/min/h, thousands separators, copyable ids),
// each tab's loader, the live EventSource, and a small line-chart function drawing inline SVG.
//
// Why our own ~80 lines of chart code rather than a Debian libjs package (libjs-d3,
// libjs-dygraphs): the charts here are a few polylines on a shared time axis; a library would
// have to be vendored into the binary or read from /usr/share/javascript at run time (a
// Debian-only path the Docker image and a macOS build lack), would add hundreds of KB to every
// page, and would draw on a canvas whose plotted values a test cannot read. Each chart keeps
// its plotted totals in `data-totals` so the browser test checks numbers, not pixels.

extension DashboardPage {
    static let script = #"""
        "use strict";
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const $ = (s, root) => (root || document).querySelector(s);
        const $$ = (s, root) => Array.from((root || document).querySelectorAll(s));
        const banner = (text) => { const b = $("#banner"); b.textContent = text || ""; b.style.display = text ? "block" : "none"; };
        async function api(path, opts) {
          opts = opts || {};
          const headers = {"Accept": "application/json"};
          if (opts.method && opts.method !== "GET") { headers["X-CSRF-Token"] = csrf; headers["Content-Type"] = "application/json"; }
          const ctl = new AbortController(); const timer = setTimeout(() => ctl.abort(), 8000);
          let r;
          try { r = await fetch(path, {method: opts.method || "GET", headers, body: opts.body, credentials: "same-origin", signal: ctl.signal}); }
          catch (e) { if (!opts.quiet) banner("The API did not answer (" + path + ")."); throw e; } finally { clearTimeout(timer); }
          if (r.status === 401) { location.href = "/login"; throw new Error("signed out"); }
          const data = await r.json().catch(() => ({}));
          if (!r.ok) { if (!opts.quiet) banner((data.error && data.error.message) || ("HTTP " + r.status)); throw new Error(r.status); }
          if (!opts.quiet) banner("");
          return data;
        }

        // ---- readable values
        const nf = new Intl.NumberFormat();
        function num(n) { return n == null || n === "" ? "–" : (typeof n === "number" ? nf.format(n) : (isNaN(Number(n)) ? String(n) : nf.format(Number(n)))); }
        function dur(ms) {
          if (ms == null || isNaN(ms)) return "–"; const a = Math.abs(ms);
          if (a < 1000) return (a < 10 ? ms.toFixed(1) : Math.round(ms)) + " ms";
          if (a < 60000) return (ms / 1000).toFixed(a < 10000 ? 2 : 1) + " s";
          if (a < 3600000) return (ms / 60000).toFixed(1) + " min";
          if (a < 172800000) return (ms / 3600000).toFixed(1) + " h";
          return (ms / 86400000).toFixed(1) + " d";
        }
        const secs = (s) => s == null ? "–" : dur(Number(s) * 1000);
        function rel(d) {
          const s = (Date.now() - d.getTime()) / 1000, a = Math.abs(s); let t;
          if (a < 45) t = Math.round(a) + " s"; else if (a < 3600) t = Math.round(a / 60) + " min";
          else if (a < 172800) t = (a / 3600).toFixed(a < 36000 ? 1 : 0) + " h"; else t = Math.round(a / 86400) + " d";
          return s >= 0 ? t + " ago" : "in " + t;
        }
        function timeEl(v) {
          const d = v == null ? null : new Date(typeof v === "number" ? v * 1000 : v);
          if (!d || isNaN(d)) { const s = document.createElement("span"); s.textContent = v == null ? "–" : String(v); return s; }
          const t = document.createElement("time"); t.dateTime = d.toISOString();
          t.title = d.toLocaleString() + " · " + d.toISOString(); t.textContent = rel(d); return t;
        }
        setInterval(() => { for (const t of $$("time[datetime]")) t.textContent = rel(new Date(t.dateTime)); }, 10000);
        async function copyText(text, button) {
          try { await navigator.clipboard.writeText(text); }
          catch (e) { const ta = document.createElement("textarea"); ta.value = text; document.body.appendChild(ta); ta.select();
            try { document.execCommand("copy"); } catch (_) {} ta.remove(); }
          button.textContent = "✓"; setTimeout(() => { button.textContent = "⧉"; }, 1200);
        }
        function idEl(id, onclick) {
          const w = document.createElement("span"); const s = document.createElement("span"); s.className = "id"; s.title = id; s.dataset.id = id;
          s.textContent = id.length > 16 ? "…" + id.slice(-12) : id;
          if (onclick) { s.classList.add("link"); s.style.cursor = "pointer"; s.onclick = onclick; }
          const b = document.createElement("button"); b.type = "button"; b.className = "copy"; b.title = "Copy " + id; b.textContent = "⧉";
          b.onclick = (e) => { e.stopPropagation(); copyText(id, b); };
          w.append(s, b); return w;
        }
        function cell(tr, v, cls) {
          const td = document.createElement("td");
          if (v instanceof Node) td.appendChild(v); else td.textContent = v == null ? "–" : String(v);
          if (cls) td.className = cls; tr.appendChild(td); return td;
        }
        function fill(tbody, rows, make, empty) {
          tbody.replaceChildren();
          for (const r of rows) { const tr = document.createElement("tr"); make(tr, r); tbody.appendChild(tr); }
          if (!rows.length && empty) { const tr = document.createElement("tr"); const td = cell(tr, empty, "muted");
            td.colSpan = tbody.parentElement.querySelectorAll("thead th").length; tbody.appendChild(tr); }
        }
        function badge(text, status) { const b = document.createElement("span"); b.className = "badge st-" + status; b.textContent = text; return b; }
        function progressOf(j) { const p = j.progress; if (p && typeof p === "object" && typeof p.fraction === "number") return p.fraction;
          if (p && typeof p === "object" && p.percent != null) return Number(p.percent) / 100;
          if (typeof p === "number") return p; return j.state === "completed" ? 1 : 0; }
        function bar(td, f) { const b = document.createElement("span"); b.className = "bar"; const i = document.createElement("i");
          i.style.width = Math.round(Math.max(0, Math.min(1, f)) * 100) + "%"; b.appendChild(i); td.appendChild(b); }
        function runMS(j) { return j.started_at && j.finished_at ? new Date(j.finished_at) - new Date(j.started_at) : null; }

        // ---- charts: polylines on a shared time axis, drawn as inline SVG
        const SVG = "http://www.w3.org/2000/svg";
        function svgEl(name, attrs, parent) { const e = document.createElementNS(SVG, name); for (const k in attrs) e.setAttribute(k, attrs[k]);
          if (parent) parent.appendChild(e); return e; }
        function niceMax(v) { if (v <= 0) return 1; const p = Math.pow(10, Math.floor(Math.log10(v))); for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p; return 10 * p; }
        function hhmm(t) { const d = new Date(t * 1000); return d.toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"}); }
        // series: [{name, color, values (numbers or null), dash}]; the figure keeps the totals it plotted.
        function lineChart(fig, axis, series, fmt, emptyText) {
          for (const x of $$("svg, .legend, .tip, .empty", fig)) x.remove();
          // Drawn at the figure's own width, so 11 px text stays 11 px; redrawn on resize.
          const W = Math.max(240, Math.round(fig.clientWidth - 14)), H = 150, R = 8, T = 8, B = 18, n = axis.length;
          const totals = {}; let total = 0, max = 0;
          for (const s of series) { let sum = 0; for (const v of s.values) if (v != null) { sum += v; if (v > max) max = v; }
            totals[s.name] = (totals[s.name] || 0) + sum; total += sum; }
          fig.dataset.totals = JSON.stringify(totals); fig.dataset.total = String(total);
          if (!series.length) { const p = document.createElement("p"); p.className = "muted small empty"; p.textContent = emptyText; fig.appendChild(p); return; }
          const ymax = niceMax(max), ticks = [0, 0.5, 1].map((f) => fmt(ymax * f));
          const L = 10 + 6.2 * Math.max(...ticks.map((t) => t.length));
          const x = (i) => L + (n <= 1 ? 0 : i * (W - L - R) / (n - 1)), y = (v) => T + (H - T - B) * (1 - v / ymax);
          const svg = svgEl("svg", {viewBox: "0 0 " + W + " " + H, role: "img"}, fig);
          const grid = svgEl("g", {class: "grid"}, svg);
          [0, 0.5, 1].forEach((f, i) => { const v = ymax * f; svgEl("line", {x1: L, x2: W - R, y1: y(v), y2: y(v)}, grid);
            svgEl("text", {x: L - 4, y: y(v) + 4, "text-anchor": "end"}, svg).textContent = ticks[i]; });
          for (const [i, anchor] of [[0, "start"], [Math.floor((n - 1) / 2), "middle"], [n - 1, "end"]]) if (n)
            svgEl("text", {x: x(i), y: H - 4, "text-anchor": anchor}, svg).textContent = hhmm(axis[i]);
          for (const s of series) {
            let d = "", up = true;
            const g = svgEl("g", {"data-series": s.name}, svg);
            s.values.forEach((v, i) => {
              if (v == null) { up = true; return; }
              d += (up ? "M" : "L") + x(i).toFixed(1) + " " + y(v).toFixed(1) + " "; up = false;
              // A point with no neighbour would be invisible as a line: a dot.
              if ((i === 0 || s.values[i - 1] == null) && (i === n - 1 || s.values[i + 1] == null))
                svgEl("circle", {cx: x(i).toFixed(1), cy: y(v).toFixed(1), r: s.dash ? 2 : 3, style: "fill:" + s.color}, g);
            });
            svgEl("path", {d: d, style: "stroke:" + s.color, "stroke-linejoin": "round", "stroke-dasharray": s.dash ? "4 3" : "none",
                           "data-series": s.name}, g);
          }
          const cursor = svgEl("line", {class: "cursor", y1: T, y2: H - B, x1: L, x2: L, visibility: "hidden"}, svg);
          const tip = document.createElement("div"); tip.className = "tip"; fig.appendChild(tip);
          svg.addEventListener("mousemove", (e) => {
            const r = svg.getBoundingClientRect(); const px = (e.clientX - r.left) * W / r.width;
            const i = Math.max(0, Math.min(n - 1, Math.round((px - L) / (W - L - R) * (n - 1))));
            cursor.setAttribute("x1", x(i)); cursor.setAttribute("x2", x(i)); cursor.setAttribute("visibility", "visible");
            tip.replaceChildren(); const h = document.createElement("div"); h.textContent = new Date(axis[i] * 1000).toLocaleString(); tip.appendChild(h);
            for (const s of series) { const line = document.createElement("div"); line.textContent = s.name + ": " + (s.values[i] == null ? "–" : fmt(s.values[i])); line.style.color = s.color; tip.appendChild(line); }
            tip.style.display = "block"; tip.style.left = Math.min(r.width - 150, Math.max(0, e.clientX - r.left + 12)) + "px"; tip.style.top = "2.2em";
          });
          svg.addEventListener("mouseleave", () => { tip.style.display = "none"; cursor.setAttribute("visibility", "hidden"); });
          const legend = document.createElement("div"); legend.className = "legend";
          for (const s of series) { if (s.dash) continue; const span = document.createElement("span"); const sw = document.createElement("i");
            sw.style.background = s.color; span.append(sw, s.name); legend.appendChild(span); }
          fig.appendChild(legend);
        }

        // ---- overview
        let win = "1h", seriesAt = 0, seriesTimer = null, lastSeries = null;
        const colorOf = (names, c) => "var(--c" + (names.indexOf(c) % 4) + ")";
        const hasData = (vs) => vs.some((v) => v != null && v !== 0);
        function drawSeries(s) {
          lastSeries = s;
          // Charts are drawn at their figure's width: a hidden tab has none; show() draws them.
          if (tab !== "overview") return;
          const names = Object.keys(s.classes).sort(), per = s.step_s === 60 ? "minute" : (s.step_s / 60) + " minutes";
          const pick = (key, keep) => names.filter((c) => keep(s.classes[c][key])).map((c) => ({name: c, color: colorOf(names, c), values: s.classes[c][key]}));
          const count = (v) => num(Math.round(v * 10) / 10);
          $("#chart-completed .title").textContent = "Completed per " + per; $("#chart-failed .title").textContent = "Failed per " + per;
          lineChart($("#chart-completed"), s.t, pick("completed", hasData), count, "No job completed in this window.");
          lineChart($("#chart-failed"), s.t, pick("failed", hasData), count, "No job failed in this window.");
          $("#chart-completed .total").textContent = num(Number($("#chart-completed").dataset.total)) + " in all";
          $("#chart-failed .total").textContent = num(Number($("#chart-failed").dataset.total)) + " in all";
          const runtime = [];
          for (const c of names) if (s.classes[c].p95_ms.some((v) => v != null)) {
            runtime.push({name: c, color: colorOf(names, c), values: s.classes[c].p95_ms});
            runtime.push({name: c + " p50", color: colorOf(names, c), values: s.classes[c].p50_ms, dash: true}); }
          lineChart($("#chart-runtime"), s.t, runtime, dur, "No job finished in this window.");
          const sampled = (vs) => vs.some((v) => v != null);
          lineChart($("#chart-depth"), s.t, pick("depth", sampled), count, "No sample yet: this API process samples the queues every few seconds.");
          lineChart($("#chart-oldest"), s.t, pick("oldest_waiting_s", sampled), secs, "No sample yet.");
          $("#series-note").textContent = "since " + new Date(s.start).toLocaleTimeString([], {hour: "2-digit", minute: "2-digit"}) +
            " · queue charts from " + num(s.samples) + " sample(s) this API process took";
          $("#p50-head").textContent = "p50 (" + s.window + ")"; $("#p95-head").textContent = "p95 (" + s.window + ")";
          for (const tr of $$("#queues tbody tr")) { const t = s.classes[tr.dataset.class] && s.classes[tr.dataset.class].totals;
            if (t) { $(".p50", tr).textContent = dur(t.p50_ms); $(".p95", tr).textContent = dur(t.p95_ms); } }
        }
        // At most every 5 s for the hour, every minute for the day; a call inside the gap runs at its end.
        async function loadSeries(force) {
          const gap = win === "1h" ? 5000 : 60000, wait = seriesAt + gap - Date.now();
          if (!force && wait > 0) { if (!seriesTimer) seriesTimer = setTimeout(() => { seriesTimer = null; loadSeries(true); }, wait); return; }
          seriesAt = Date.now();
          try { drawSeries(await api("/v1/overview/series?window=" + win)); } catch (e) {}
        }
        let resizeTimer = null;
        window.addEventListener("resize", () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(() => { if (lastSeries) drawSeries(lastSeries); }, 150); });
        for (const b of $$("button[data-window]")) b.onclick = () => {
          win = b.dataset.window; for (const x of $$("button[data-window]")) x.classList.toggle("on", x === b); loadSeries(true); };
        async function loadOverview() {
          try {
            const q = await api("/v1/queues");
            fill($("#queues tbody"), Object.entries(q.classes), (tr, [name, c]) => {
              tr.dataset.class = name;
              cell(tr, name); cell(tr, num(c.depth), "n"); cell(tr, num(c.consumers), "n"); cell(tr, num(c.waiting), "n"); cell(tr, num(c.running), "n");
              cell(tr, num(c.completed_last_hour), "n"); cell(tr, num(c.failed_last_hour), "n" + (c.failed_last_hour > 0 ? " st-firing" : ""));
              const t = lastSeries && lastSeries.classes[name] && lastSeries.classes[name].totals;
              cell(tr, t ? dur(t.p50_ms) : "–", "n p50"); cell(tr, t ? dur(t.p95_ms) : "–", "n p95"); cell(tr, secs(c.oldest_waiting_s), "n"); });
            $("#dead-count").textContent = num(q.dead);
          } catch (e) {}
          loadSeries(false);
          try { const a = await api("/v1/alerts?limit=200", {quiet: true}); $("#firing-count").textContent = num(a.firing);
            $("#firing-count").className = "link" + (a.firing > 0 ? " st-firing" : ""); } catch (e) {}
        }
        $("#firing-count").onclick = () => show("maintenance");

        // ---- jobs, dead letters, schedules
        let cursor = null;
        function filterQuery() { const f = new FormData($("#job-filter")); const p = new URLSearchParams();
          for (const [k, v] of f.entries()) if (v) p.set(k, v); return p; }
        async function loadJobs(more) {
          const p = filterQuery(); p.set("limit", "50"); if (more && cursor) p.set("cursor", cursor);
          try {
            const page = await api("/v1/jobs?" + p.toString());
            const tbody = $("#job-table tbody"); if (!more) tbody.replaceChildren();
            for (const j of page.jobs) {
              const tr = document.createElement("tr"); tr.dataset.id = j.id;
              cell(tr, idEl(j.id, () => showJob(j.id))); cell(tr, j.kind); cell(tr, j.class); cell(tr, j.state, "state state-" + j.state);
              cell(tr, j.attempt + "/" + j.max_attempts, "n"); cell(tr, timeEl(j.enqueued_at)); cell(tr, dur(runMS(j)), "n"); bar(cell(tr, ""), progressOf(j));
              tbody.appendChild(tr);
            }
            cursor = page.next_cursor; $("#more").style.display = cursor ? "inline" : "none";
          } catch (e) {}
        }
        async function showJob(id) {
          const j = await api("/v1/jobs/" + encodeURIComponent(id));
          const d = $("#job-detail"); d.replaceChildren();
          const h = document.createElement("h2"); h.append(j.kind + " ", idEl(j.id)); d.appendChild(h);
          const t = document.createElement("p"); t.append("state ", badge(j.state, j.state === "completed" ? "ok" : j.state === "discarded" ? "firing" : "none"),
            " · enqueued ", timeEl(j.enqueued_at), " · started ", timeEl(j.started_at), " · finished ", timeEl(j.finished_at), " · ran " + dur(runMS(j)),
            " · attempt " + j.attempt + "/" + j.max_attempts + " · target " + j.target + " · enqueued by " + (j.enqueued_by || "unknown"));
          d.appendChild(t);
          for (const [label, v] of [["args", j.args], ["result", j.result], ["error", j.error], ["progress", j.progress]]) {
            if (v == null) continue; const l = document.createElement("h3"); l.textContent = label; d.appendChild(l);
            const pre = document.createElement("pre"); pre.textContent = typeof v === "string" ? v : JSON.stringify(v, null, 2); d.appendChild(pre); }
        }
        async function loadDead() {
          try {
            const r = await api("/v1/dead");
            fill($("#dead-table tbody"), r.dead, (tr, d) => {
              tr.dataset.id = d.id || "";
              cell(tr, d.id ? idEl(d.id) : "–"); cell(tr, d.kind); cell(tr, d.class); cell(tr, d.reason); cell(tr, d.error, "wrap"); cell(tr, timeEl(d.failed_at));
              const td = cell(tr, ""); const b = document.createElement("button"); b.textContent = "Replay"; b.className = "replay";
              b.onclick = async () => { b.disabled = true; try { await api("/v1/dead/" + encodeURIComponent(d.id) + "/replay", {method: "POST"}); await loadDead(); } catch (e) { b.disabled = false; } };
              td.appendChild(b); }, "No dead letters.");
          } catch (e) {}
        }
        async function loadSchedules() {
          try {
            const r = await api("/v1/schedules");
            fill($("#schedule-table tbody"), r.schedules, (tr, s) => {
              cell(tr, s.name); cell(tr, s.spec, "id"); cell(tr, s.kind); cell(tr, timeEl(s.last_fire)); cell(tr, timeEl(s.next_fire));
              const td = cell(tr, ""); const b = document.createElement("button"); b.textContent = "Run now";
              b.onclick = async () => { await api("/v1/schedules/" + encodeURIComponent(s.name) + "/run", {method: "POST"}); await loadSchedules(); };
              td.appendChild(b); }, "No schedules (the API runs without a catalog, or the catalog declares none).");
          } catch (e) {}
        }

        // ---- maintenance: health checks, alerts, partitions, views
        const title = (s) => s.replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());
        function metricValue(metric, v) {
          if (v == null || v === "") return "–"; const n = Number(v); if (isNaN(n)) return String(v);
          if (/ratio|utilisation/.test(metric)) return (n * 100).toFixed(n < 0.1 ? 2 : 1) + " %";
          if (/_ms$/.test(metric)) return dur(n); if (/_s$/.test(metric)) return secs(n); return num(n);
        }
        // firing: a finding crossed its threshold; warning: the report could not look (no
        // pg_stat_statements), found unused/invalid indexes, or is more than a day old; ok otherwise.
        function statusOf(r) {
          if ((r.findings || []).length) return "firing";
          if (r.summary && r.summary.available === false) return "warning";
          if (r.report === "index_usage" && (r.rows || []).length) return "warning";
          if (r.generated_at && Date.now() - new Date(r.generated_at) > 86400000) return "warning";
          return "ok";
        }
        const rank = {firing: 0, warning: 1, ok: 2};
        function summaryLine(summary) {
          const p = document.createElement("p"); p.className = "small muted";
          const parts = [];
          for (const [k, v] of Object.entries(summary || {})) {
            if (v == null || typeof v === "object" || v === true) continue;
            if (/method|means|reason/.test(k)) continue;
            parts.push(k.replace(/_(s|ms)$/, "").replace(/_/g, " ") + " " + (typeof v === "number" ? metricValue(k, v) : String(v)));
          }
          p.textContent = parts.join(" · "); return p;
        }
        function smallTable(columns, rows, make) {
          const wrap = document.createElement("div"); wrap.className = "scroll"; const t = document.createElement("table"); wrap.appendChild(t);
          const head = t.createTHead().insertRow(); for (const c of columns) { const th = document.createElement("th"); th.textContent = c[0]; if (c[1]) th.className = c[1]; head.appendChild(th); }
          const body = t.createTBody(); for (const r of rows) { const tr = body.insertRow(); make(tr, r); }
          return wrap;
        }
        function renderCheck(r) {
          const status = statusOf(r), div = document.createElement("div");
          div.className = "check"; div.id = "check-" + r.report; div.dataset.report = r.report; div.dataset.status = status;
          const head = document.createElement("div"); head.className = "head"; const h = document.createElement("h3"); h.textContent = title(r.report);
          const when = document.createElement("span"); when.className = "muted small"; when.append(timeEl(r.generated_at), " · took " + dur(r.duration_ms));
          head.append(h, badge(status, status), when); div.appendChild(head);
          div.appendChild(summaryLine(r.summary));
          for (const [k, v] of Object.entries(r.summary || {})) if (/method|means|reason/.test(k) && typeof v === "string") {
            const p = document.createElement("p"); p.className = "small muted"; p.textContent = (k === "reason" ? "" : k.replace(/_/g, " ") + ": ") + v; div.appendChild(p); }
          const findings = r.findings || [];
          if (findings.length) {
            // Confidence only where a value is an estimate (bloat); the method is in the lines above.
            const estimated = findings.some((f) => f.evidence && f.evidence.confidence);
            const columns = [["object"], ["measure"], ["value", "n"], ["threshold", "n"]].concat(estimated ? [["confidence"]] : [], [["detail"]]);
            div.appendChild(smallTable(columns, findings, (tr, f) => {
              tr.dataset.key = f.key; const ev = f.evidence || {};
              cell(tr, f.subject, "subject"); cell(tr, f.metric.replace(/_/g, " "), "small"); cell(tr, metricValue(f.metric, f.value), "n value st-firing");
              cell(tr, metricValue(f.metric, f.threshold), "n threshold"); if (estimated) cell(tr, ev.confidence ? "estimate, " + ev.confidence : "–", "small confidence");
              const td = cell(tr, f.message, "wrap small");
              if (ev.query) { const q = document.createElement("div"); q.className = "id wrap muted"; q.textContent = ev.query; td.appendChild(q); } }));
          } else {
            const p = document.createElement("p"); p.className = "st-" + status;
            p.textContent = status === "ok" ? "✓ No problems." : (r.summary && r.summary.reason) || "Nothing crossed a threshold; see the rows.";
            div.appendChild(p);
          }
          const rows = r.rows || [];
          if (rows.length) {
            const det = document.createElement("details"); const sum = document.createElement("summary"); sum.textContent = "rows (" + num(rows.length) + ")"; det.appendChild(sum);
            const cols = []; for (const row of rows.slice(0, 50)) for (const k of Object.keys(row)) if (!cols.includes(k) && cols.length < 9) cols.push(k);
            det.appendChild(smallTable(cols.map((c) => [c.replace(/_/g, " ")]), rows.slice(0, 50), (tr, row) => {
              for (const c of cols) { const v = row[c]; cell(tr, v == null ? "–" : typeof v === "object" ? JSON.stringify(v) :
                typeof v === "number" ? metricValue(c, v) : /_at$|_start$/.test(c) ? timeEl(v) : String(v), typeof v === "number" ? "n" : "small wrap"); } }));
            div.appendChild(det);
          }
          const raw = document.createElement("details"); raw.className = "raw"; const rs = document.createElement("summary"); rs.textContent = "raw JSON";
          const pre = document.createElement("pre"); pre.textContent = JSON.stringify(r, null, 2); raw.append(rs, pre); div.appendChild(raw);
          return div;
        }
        function goToCheck(target, report) {
          if (target && $("#health-target").value !== target) $("#health-target").value = target;
          show("maintenance").then(() => { const c = $("#check-" + report); if (c) { c.scrollIntoView({block: "start"}); c.animate([{outline: "2px solid var(--accent)"}, {outline: "none"}], 1500); } });
        }
        async function loadMaintenance() {
          const target = $("#health-target").value.trim() || "main";
          try {
            const h = await api("/v1/health/" + encodeURIComponent(target));
            $("#health").textContent = JSON.stringify(h.reports, null, 2);
            const reports = Object.values(h.reports).filter((r) => r && r.report);
            reports.sort((a, b) => rank[statusOf(a)] - rank[statusOf(b)] || a.report.localeCompare(b.report));
            $("#checks").replaceChildren(...reports.map(renderCheck));
            const firing = reports.filter((r) => statusOf(r) === "firing").length;
            $("#health-note").textContent = num(reports.length) + " report(s) stored for " + target + (firing ? " · " + firing + " firing" : "");
            if (!reports.length) { const p = document.createElement("p"); p.className = "muted";
              p.textContent = "No health report stored for " + target + ": the scheduler runs analytics.health, or enqueue it."; $("#checks").appendChild(p); }
          } catch (e) {}
          try {
            const a = await api("/v1/alerts?limit=500");
            // The latest entry of each alert, firing first.
            const latest = new Map(); for (const x of a.alerts) { const k = (x.target || "") + "|" + (x.alert || x.name || x.stream_id); if (!latest.has(k)) latest.set(k, x); }
            const rows = Array.from(latest.values()).sort((p, q) => (p.state === "firing" ? 0 : 1) - (q.state === "firing" ? 0 : 1));
            fill($("#alert-table tbody"), rows, (tr, x) => {
              const firing = (x.state || x.status) === "firing"; tr.dataset.alert = x.alert || "";
              cell(tr, badge(x.state || x.status || "?", firing ? "firing" : "ok")); const who = document.createElement("span");
              who.append(x.subject || x.alert || "–"); const k = document.createElement("div"); k.className = "muted small id"; k.textContent = (x.target ? x.target + " · " : "") + (x.alert || "");
              who.appendChild(k); cell(tr, who);
              cell(tr, metricValue(x.metric || "", x.value), "n"); cell(tr, metricValue(x.metric || "", x.threshold), "n");
              cell(tr, timeEl(firing ? x.fired_at : x.at));
              const from = x.fired_at ? new Date(x.fired_at) : null, to = firing ? new Date() : (x.at ? new Date(x.at) : null);
              cell(tr, from && to && !isNaN(from) && !isNaN(to) ? dur(to - from) : "–", "n");
              const link = document.createElement("a"); link.className = "link report-link"; link.textContent = x.report ? title(x.report) : "–";
              if (x.report) link.onclick = () => goToCheck(x.target, x.report); cell(tr, link);
              cell(tr, x.message || x.detail, "wrap small"); }, "No alerts recorded.");
          } catch (e) {}
          try {
            const m = await api("/v1/maintenance/" + encodeURIComponent(target));
            fill($("#partition-table tbody"), m.partitions, (tr, p) => {
              tr.dataset.table = p.table; const short = p.ahead != null && p.ahead < p.premake;
              cell(tr, p.table, "id"); cell(tr, p.interval);
              cell(tr, p.ahead == null ? (p.exists === false ? "missing" : "not reported") : num(p.ahead), "n ahead" + (short || p.exists === false ? " st-firing" : p.ahead != null ? " st-ok" : " muted"));
              cell(tr, num(p.premake), "n asked"); cell(tr, num(p.partitions), "n");
              cell(tr, p.default_rows == null ? "–" : (p.default_rows > 100000 ? "> 100,000" : num(p.default_rows)), "n default-rows" + (p.default_rows > 0 ? " st-firing" : ""));
              cell(tr, p.retention ? p.retention + " · " + p.retention_mode + (p.archive_schema ? " to " + p.archive_schema : "") : "kept forever");
              const next = document.createElement("span");
              if (p.next_retention_at) { next.append(p.retention_mode + " " + (p.oldest_partition || "") + " ", timeEl(p.next_retention_at));
                if (new Date(p.next_retention_at) < new Date()) next.appendChild(badge("due", "warning")); }
              else next.textContent = p.retention ? "not reported" : "–";
              cell(tr, next); }, "The catalog declares no partitioned table for " + target + ".");
            fill($("#view-table tbody"), m.views, (tr, v) => {
              tr.dataset.view = v.view; const last = v.last_refresh || {};
              cell(tr, v.view, "id"); cell(tr, v.refresh + (last.mode ? " (last: " + last.mode + ")" : "")); cell(tr, timeEl(v.refreshed_at));
              const age = document.createElement("span");
              if (v.age_s != null) age.append(secs(v.age_s)); else age.append("never refreshed");
              if (v.every_s != null) age.append(" of every " + secs(v.every_s));
              if (v.overdue) age.appendChild(badge("overdue", "firing")); cell(tr, age);
              cell(tr, v.schedules.length ? v.schedules.map((s) => s.name + " (" + s.spec + ")").join(", ") : "none", "small");
              cell(tr, last.duration_seconds != null ? secs(last.duration_seconds) : "–", "n"); cell(tr, num(last.rows), "n");
              cell(tr, v.dependent_queries.length ? v.dependent_queries.join(", ") : "none", "small dependents"); }, "The catalog declares no materialized view for " + target + ".");
          } catch (e) {}
        }

        // ---- imports
        async function loadImports() {
          try {
            const page = await api("/v1/jobs?kind=import.file&limit=50");
            fill($("#import-table tbody"), page.jobs, (tr, j) => {
              const r = j.result || {}; const p = (j.progress && typeof j.progress === "object") ? j.progress : {};
              tr.dataset.id = j.id; cell(tr, idEl(j.id));
              cell(tr, (j.args.source && (j.args.source.path || j.args.source.upload)) || "–", "small"); cell(tr, j.state, "state state-" + j.state);
              bar(cell(tr, ""), progressOf(j)); cell(tr, num(r.rows_read != null ? r.rows_read : p.rows), "n");
              cell(tr, num(r.inserted), "n"); cell(tr, num(r.updated), "n"); cell(tr, num(r.unchanged), "n");
              cell(tr, num(r.rejected != null ? r.rejected : p.rejected), "n" + (r.rejected > 0 ? " st-firing" : ""));
              const td = cell(tr, "");
              if (r.rejected > 0) { const l = document.createElement("a"); l.textContent = "rejects.csv"; l.className = "rejects link";
                l.href = "/v1/imports/" + encodeURIComponent(j.id) + "/rejects.csv"; td.appendChild(l); } }, "No import yet.");
          } catch (e) {}
        }
        $("#import-form").onsubmit = async (e) => {
          e.preventDefault(); const f = new FormData($("#import-form")); const file = f.get("file");
          const q = new URLSearchParams({spec: f.get("spec"), file_name: file.name}); if (f.get("dry_run")) q.set("dry_run", "true");
          // The file goes as the raw body: the server streams it into an upload.
          try { const r = await fetch("/v1/imports?" + q.toString(), {method: "POST", body: file, credentials: "same-origin",
              headers: {"X-CSRF-Token": csrf, "Content-Type": "application/octet-stream", "Accept": "application/json"}});
            const data = await r.json().catch(() => ({}));
            if (!r.ok) { banner((data.error && data.error.message) || ("HTTP " + r.status)); return; }
            banner(""); $("#import-form").reset(); await loadImports();
          } catch (err) { banner("The upload failed."); }
        };

        // ---- tabs and live updates
        const loaders = {overview: loadOverview, jobs: () => loadJobs(false), dead: loadDead, schedules: loadSchedules, maintenance: loadMaintenance,
                         imports: loadImports};
        let tab = "overview";
        function show(name) {
          if (!loaders[name]) name = "overview";
          tab = name;
          for (const x of $$("header a[data-tab]")) x.classList.toggle("on", x.dataset.tab === name);
          for (const s of $$("main section.tab")) s.classList.toggle("on", s.id === name);
          if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
          if (name === "overview" && lastSeries) drawSeries(lastSeries);
          return loaders[name]();
        }
        for (const a of $$("header a[data-tab]")) a.onclick = () => show(a.dataset.tab);
        $("#job-filter").onsubmit = (e) => { e.preventDefault(); loadJobs(false); };
        $("#more").onclick = () => loadJobs(true);
        $("#health-load").onclick = loadMaintenance;

        // Every job event refreshes what is on screen (at most every 300 ms); the charts also
        // refresh every 15 s so queue samples appear without events.
        let pending = null;
        function refreshSoon() { if (pending) return; pending = setTimeout(() => { pending = null; loaders[tab](); if (tab !== "overview") loadOverview(); }, 300); }
        setInterval(() => { if (tab === "overview") loadSeries(false); }, 15000);
        function follow() {
          const es = new EventSource("/v1/events");
          es.onopen = () => { $("#live").textContent = "live"; };
          es.onmessage = () => refreshSoon();
          es.addEventListener("unavailable", () => { $("#live").textContent = "live updates paused: Redis unreachable"; });
          // A 503 (Redis down) closes an EventSource for good: open a new one a little later.
          es.onerror = () => { $("#live").textContent = "reconnecting…"; if (es.readyState === EventSource.CLOSED) setTimeout(follow, 3000); };
        }
        const first = location.hash.slice(1);
        if (loaders[first] && first !== "overview") show(first);
        loadOverview(); if (tab !== "jobs") loadJobs(false); follow();
        """#
}
