// DashboardPage: the dashboard's HTML and JavaScript, served by `sluice api`. No build step: one
// page, plain DOM code, reading the JSON API with the session cookie and following
// `/v1/events` (EventSource) so jobs appear and finish without a reload. Every value shown is
// set with textContent, never innerHTML, so job arguments cannot inject markup.

enum DashboardPage {
    static func render(csrf: String, scopes: [String]) -> String {
        page.replacingOccurrences(of: "{{CSRF}}", with: csrf)
            .replacingOccurrences(of: "{{SCOPES}}", with: scopes.joined(separator: " "))
    }

    static func login(error: String?) -> String {
        let message = error.map { "<p class=\"err\" id=\"login-error\">\($0)</p>" } ?? ""
        return #"""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sluice: sign in</title><link rel="icon" href="data:,">
            <style>body{font:15px system-ui,sans-serif;max-width:28em;margin:4em auto}input{width:100%;padding:.5em;margin:.5em 0}
            .err{color:#b00}</style></head><body><h1>Sluice</h1>
            <form method="post" action="/login"><label for="token">API token</label>
            <input id="token" name="token" type="password" autocomplete="off" autofocus>
            <button id="login" type="submit">Sign in</button></form>{{MESSAGE}}</body></html>
            """#.replacingOccurrences(of: "{{MESSAGE}}", with: message)
    }

    static let page = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><title>Sluice</title><link rel="icon" href="data:,">
        <meta name="csrf-token" content="{{CSRF}}">
        <style>
        body{font:14px system-ui,sans-serif;margin:0;color:#222}
        header{background:#123;color:#fff;padding:.6em 1em;display:flex;gap:1em;align-items:center}
        header a{color:#cde;cursor:pointer;text-decoration:none} header a.on{color:#fff;font-weight:bold}
        main{padding:1em} table{border-collapse:collapse;width:100%} th,td{border-bottom:1px solid #ddd;padding:.3em .5em;text-align:left}
        .banner{background:#fee;color:#900;padding:.5em 1em;display:none} .live{margin-left:auto;font-size:12px}
        .bar{background:#eee;height:8px;width:120px;display:inline-block}.bar i{background:#39c;height:8px;display:block}
        pre{background:#f6f6f6;padding:.5em;overflow:auto;max-height:20em} section{display:none} section.on{display:block}
        .state-completed{color:#070}.state-discarded,.state-cancelled{color:#a00}.state-running{color:#06c}
        </style></head>
        <body>
        <header><strong>Sluice</strong>
          <a data-tab="overview" class="on">Overview</a><a data-tab="jobs">Jobs</a><a data-tab="dead">Dead letters</a>
          <a data-tab="schedules">Schedules</a><a data-tab="maintenance">Maintenance</a><a data-tab="imports">Imports</a>
          <span class="live" id="live">connecting…</span>
          <form method="post" action="/logout" style="margin:0"><button>Sign out</button></form>
        </header>
        <div class="banner" id="banner"></div>
        <main>
        <section id="overview" class="on"><h2>Queues</h2>
          <table id="queues"><thead><tr><th>class</th><th>depth</th><th>consumers</th><th>waiting</th><th>running</th>
          <th>done/min</th><th>failed (1h)</th><th>oldest waiting</th></tr></thead><tbody></tbody></table>
          <p>Dead letters: <span id="dead-count">–</span></p></section>
        <section id="jobs"><h2>Jobs</h2>
          <form id="job-filter">
            <select name="state"><option value="">any state</option><option>available</option><option>scheduled</option>
            <option>running</option><option>retryable</option><option>completed</option><option>cancelled</option><option>discarded</option></select>
            <select name="class"><option value="">any class</option><option>maintenance</option><option>refresh</option>
            <option>import</option><option>analytics</option></select>
            <input name="kind" placeholder="kind"><input name="target" placeholder="target">
            <input name="q" placeholder="id, kind or unique key"><button>Filter</button></form>
          <table id="job-table"><thead><tr><th>id</th><th>kind</th><th>class</th><th>state</th><th>attempt</th><th>enqueued</th><th>progress</th></tr></thead><tbody></tbody></table>
          <button id="more" style="display:none">More</button>
          <div id="job-detail"></div></section>
        <section id="dead"><h2>Dead letters</h2><table id="dead-table"><thead><tr><th>job</th><th>kind</th><th>class</th>
          <th>reason</th><th>error</th><th>failed at</th><th></th></tr></thead><tbody></tbody></table></section>
        <section id="schedules"><h2>Schedules</h2><table id="schedule-table"><thead><tr><th>name</th><th>spec</th><th>kind</th>
          <th>last fire</th><th>next fire</th><th></th></tr></thead><tbody></tbody></table></section>
        <section id="maintenance"><h2>Health reports</h2><input id="health-target" value="main"> <button id="health-load">Load</button>
          <pre id="health"></pre>
          <h2>Materialized views</h2><table id="matview-table"><thead><tr><th>view</th><th>refreshed at</th><th>mode</th><th>duration (s)</th><th>rows</th></tr></thead><tbody></tbody></table>
          <h2>Alerts</h2><table id="alert-table"><thead><tr><th>when</th><th>alert</th><th>state</th><th>detail</th></tr></thead><tbody></tbody></table></section>
        <section id="imports"><h2>Imports</h2>
          <form id="import-form"><input name="spec" placeholder="import spec, e.g. leads" required>
            <input type="file" name="file" required><label><input type="checkbox" name="dry_run"> dry run</label>
            <button>Upload and import</button></form>
          <table id="import-table"><thead><tr><th>job</th><th>file</th><th>state</th><th>progress</th><th>rows</th><th>inserted</th>
          <th>updated</th><th>unchanged</th><th>rejected</th><th></th></tr></thead><tbody></tbody></table></section>
        </main>
        <script>
        "use strict";
        const csrf = document.querySelector('meta[name="csrf-token"]').content;
        const $ = (s) => document.querySelector(s);
        const banner = (text) => { const b = $("#banner"); b.textContent = text || ""; b.style.display = text ? "block" : "none"; };
        async function api(path, opts) {
          opts = opts || {};
          const headers = {"Accept": "application/json"};
          if (opts.method && opts.method !== "GET") { headers["X-CSRF-Token"] = csrf; headers["Content-Type"] = "application/json"; }
          const ctl = new AbortController(); const timer = setTimeout(() => ctl.abort(), 8000);
          let r;
          try { r = await fetch(path, {method: opts.method || "GET", headers, body: opts.body, credentials: "same-origin", signal: ctl.signal}); }
          catch (e) { banner("The API did not answer (" + path + ")."); throw e; } finally { clearTimeout(timer); }
          if (r.status === 401) { location.href = "/login"; throw new Error("signed out"); }
          const data = await r.json().catch(() => ({}));
          if (!r.ok) { banner((data.error && data.error.message) || ("HTTP " + r.status)); throw new Error(r.status); }
          banner("");
          return data;
        }
        function cell(tr, text, cls) { const td = document.createElement("td"); td.textContent = text == null ? "–" : String(text); if (cls) td.className = cls; tr.appendChild(td); return td; }
        function fill(tbody, rows, make) { tbody.replaceChildren(); for (const r of rows) { const tr = document.createElement("tr"); make(tr, r); tbody.appendChild(tr); } }
        function age(s) { if (s == null) return "–"; if (s < 60) return s.toFixed(1) + " s"; if (s < 3600) return (s / 60).toFixed(1) + " min"; return (s / 3600).toFixed(1) + " h"; }
        function progressOf(j) { const p = j.progress; if (p && typeof p === "object" && typeof p.fraction === "number") return p.fraction;
          if (p && typeof p === "object" && p.percent != null) return Number(p.percent) / 100;
          if (typeof p === "number") return p; return j.state === "completed" ? 1 : 0; }
        function bar(td, f) { const b = document.createElement("span"); b.className = "bar"; const i = document.createElement("i");
          i.style.width = Math.round(Math.max(0, Math.min(1, f)) * 100) + "%"; b.appendChild(i); td.appendChild(b); }

        async function loadOverview() {
          try {
            const q = await api("/v1/queues");
            fill($("#queues tbody"), Object.entries(q.classes), (tr, [name, c]) => {
              cell(tr, name); cell(tr, c.depth); cell(tr, c.consumers); cell(tr, c.waiting); cell(tr, c.running);
              cell(tr, c.completed_per_minute.toFixed(2)); cell(tr, c.failed_last_hour); cell(tr, age(c.oldest_waiting_s)); });
            $("#dead-count").textContent = q.dead == null ? "–" : q.dead;
          } catch (e) {}
        }
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
              const a = cell(tr, j.id.slice(0, 13) + "…"); a.style.cursor = "pointer"; a.title = j.id; a.onclick = () => showJob(j.id);
              cell(tr, j.kind); cell(tr, j.class); cell(tr, j.state, "state state-" + j.state); cell(tr, j.attempt + "/" + j.max_attempts);
              cell(tr, j.enqueued_at); bar(cell(tr, ""), progressOf(j)); tbody.appendChild(tr);
            }
            cursor = page.next_cursor; $("#more").style.display = cursor ? "inline" : "none";
          } catch (e) {}
        }
        async function showJob(id) {
          const j = await api("/v1/jobs/" + encodeURIComponent(id));
          const d = $("#job-detail"); d.replaceChildren();
          const h = document.createElement("h3"); h.textContent = j.kind + " " + j.id; d.appendChild(h);
          const t = document.createElement("p");
          t.textContent = "enqueued " + j.enqueued_at + " · started " + (j.started_at || "–") + " · finished " + (j.finished_at || "–") + " · state " + j.state;
          d.appendChild(t);
          for (const [label, v] of [["args", j.args], ["result", j.result], ["error", j.error], ["progress", j.progress]]) {
            if (v == null) continue; const l = document.createElement("h4"); l.textContent = label; d.appendChild(l);
            const pre = document.createElement("pre"); pre.textContent = typeof v === "string" ? v : JSON.stringify(v, null, 2); d.appendChild(pre); }
        }
        async function loadDead() {
          try {
            const r = await api("/v1/dead");
            fill($("#dead-table tbody"), r.dead, (tr, d) => {
              cell(tr, d.id); cell(tr, d.kind); cell(tr, d.class); cell(tr, d.reason); cell(tr, d.error); cell(tr, d.failed_at);
              const td = cell(tr, ""); const b = document.createElement("button"); b.textContent = "Replay"; b.className = "replay";
              b.onclick = async () => { b.disabled = true; try { await api("/v1/dead/" + encodeURIComponent(d.id) + "/replay", {method: "POST"}); await loadDead(); } catch (e) { b.disabled = false; } };
              td.appendChild(b); });
          } catch (e) {}
        }
        async function loadSchedules() {
          try {
            const r = await api("/v1/schedules");
            fill($("#schedule-table tbody"), r.schedules, (tr, s) => {
              cell(tr, s.name); cell(tr, s.spec); cell(tr, s.kind); cell(tr, s.last_fire); cell(tr, s.next_fire);
              const td = cell(tr, ""); const b = document.createElement("button"); b.textContent = "Run now";
              b.onclick = async () => { await api("/v1/schedules/" + encodeURIComponent(s.name) + "/run", {method: "POST"}); await loadSchedules(); };
              td.appendChild(b); });
          } catch (e) {}
        }
        async function loadMaintenance() {
          try { const h = await api("/v1/health/" + encodeURIComponent($("#health-target").value)); $("#health").textContent = JSON.stringify(h.reports, null, 2); } catch (e) {}
          try { const m = await api("/v1/matviews");
            fill($("#matview-table tbody"), Object.entries(m.views), (tr, [name, v]) => { cell(tr, name); cell(tr, v.refreshed_at); cell(tr, v.mode); cell(tr, v.duration_seconds); cell(tr, v.rows); });
          } catch (e) {}
          try { const a = await api("/v1/alerts");
            fill($("#alert-table tbody"), a.alerts, (tr, x) => { cell(tr, x.at || x.stream_id); cell(tr, x.alert || x.name); cell(tr, x.state || x.status); cell(tr, x.detail || x.message); });
          } catch (e) {}
        }
        async function loadImports() {
          try {
            const page = await api("/v1/jobs?kind=import.file&limit=50");
            fill($("#import-table tbody"), page.jobs, (tr, j) => {
              const r = j.result || {}; const p = (j.progress && typeof j.progress === "object") ? j.progress : {};
              const a = cell(tr, j.id.slice(0, 13) + "…"); a.title = j.id;
              cell(tr, (j.args.source && (j.args.source.path || j.args.source.upload)) || "–"); cell(tr, j.state, "state state-" + j.state);
              bar(cell(tr, ""), progressOf(j)); cell(tr, r.rows_read != null ? r.rows_read : p.rows);
              cell(tr, r.inserted); cell(tr, r.updated); cell(tr, r.unchanged); cell(tr, r.rejected != null ? r.rejected : p.rejected);
              const td = cell(tr, "");
              if (r.rejected > 0) { const l = document.createElement("a"); l.textContent = "rejects.csv"; l.className = "rejects";
                l.href = "/v1/imports/" + encodeURIComponent(j.id) + "/rejects.csv"; td.appendChild(l); } });
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
        const loaders = {overview: loadOverview, jobs: () => loadJobs(false), dead: loadDead, schedules: loadSchedules, maintenance: loadMaintenance,
                         imports: loadImports};
        let tab = "overview";
        for (const a of document.querySelectorAll("header a[data-tab]")) a.onclick = () => {
          tab = a.dataset.tab;
          for (const x of document.querySelectorAll("header a[data-tab]")) x.classList.toggle("on", x === a);
          for (const s of document.querySelectorAll("main section")) s.classList.toggle("on", s.id === tab);
          loaders[tab](); };
        $("#job-filter").onsubmit = (e) => { e.preventDefault(); loadJobs(false); };
        $("#more").onclick = () => loadJobs(true);
        $("#health-load").onclick = loadMaintenance;

        // Live: every job event refreshes what is on screen (at most every 300 ms).
        let pending = null;
        function refreshSoon() { if (pending) return; pending = setTimeout(() => { pending = null; loaders[tab](); if (tab !== "overview") loadOverview(); }, 300); }
        function follow() {
          const es = new EventSource("/v1/events");
          es.onopen = () => { $("#live").textContent = "live"; };
          es.onmessage = () => refreshSoon();
          es.addEventListener("unavailable", () => { $("#live").textContent = "live updates paused: Redis unreachable"; });
          // A 503 (Redis down) closes an EventSource for good: open a new one a little later.
          es.onerror = () => { $("#live").textContent = "reconnecting…"; if (es.readyState === EventSource.CLOSED) setTimeout(follow, 3000); };
        }
        loadOverview(); loadJobs(false); follow();
        </script></body></html>
        """#
}
