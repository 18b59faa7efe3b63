// DashboardPage: the dashboard's HTML, served by `sluice api`. No build step and no asset from
// the network: one page whose style (DashboardPage+Style) and script (DashboardPage+Script, with
// its own small inline-SVG chart code) are inlined, reading the JSON API with the session cookie
// and following `/v1/events` (EventSource) so jobs appear and finish without a reload. Every
// value shown is set with textContent, never innerHTML, so job arguments cannot inject markup.

enum DashboardPage {
    static func render(csrf: String, scopes: [String]) -> String {
        page.replacingOccurrences(of: "{{STYLE}}", with: style).replacingOccurrences(of: "{{SCRIPT}}", with: script)
            .replacingOccurrences(of: "{{CSRF}}", with: csrf)
            .replacingOccurrences(of: "{{SCOPES}}", with: scopes.joined(separator: " "))
    }

    static func login(error: String?) -> String {
        let message = error.map { "<p class=\"err\" id=\"login-error\">\($0)</p>" } ?? ""
        return #"""
            <!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Sluice: sign in</title><link rel="icon" href="data:,">
            <style>:root{color-scheme:light dark}body{font:14px system-ui,sans-serif;max-width:26em;margin:4em auto;padding:0 1em}
            input,button{font:inherit;width:100%;padding:.45em;margin:.4em 0;box-sizing:border-box}.err{color:#c0392b}</style></head><body><h1>Sluice</h1>
            <form method="post" action="/login"><label for="token">API token</label>
            <input id="token" name="token" type="password" autocomplete="off" autofocus>
            <button id="login" type="submit">Sign in</button></form>{{MESSAGE}}</body></html>
            """#.replacingOccurrences(of: "{{MESSAGE}}", with: message)
    }

    static let page = #"""
        <!doctype html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Sluice</title><link rel="icon" href="data:,">
        <meta name="csrf-token" content="{{CSRF}}">
        <style>{{STYLE}}</style></head>
        <body>
        <header><strong>Sluice</strong>
          <nav><a data-tab="overview" class="on">Overview</a><a data-tab="jobs">Jobs</a><a data-tab="dead">Dead letters</a>
          <a data-tab="schedules">Schedules</a><a data-tab="maintenance">Maintenance</a><a data-tab="imports">Imports</a></nav>
          <span class="live" id="live">connecting…</span>
          <form method="post" action="/logout"><button>Sign out</button></form>
        </header>
        <div class="banner" id="banner"></div>
        <main>
        <section id="overview" class="tab on">
          <div class="toolbar"><strong>Last</strong><button id="win-1h" class="on" data-window="1h">hour</button>
            <button id="win-24h" data-window="24h">24 hours</button><span class="muted small" id="series-note"></span></div>
          <div class="grid">
            <figure class="chart" id="chart-completed"><figcaption><span class="title">Completed</span><span class="muted total"></span></figcaption></figure>
            <figure class="chart" id="chart-failed"><figcaption><span class="title">Failed</span><span class="muted total"></span></figcaption></figure>
            <figure class="chart" id="chart-runtime"><figcaption><span class="title">Run time p95 (dashed: p50)</span><span class="muted total"></span></figcaption></figure>
            <figure class="chart" id="chart-depth"><figcaption><span class="title">Queue depth</span><span class="muted total"></span></figcaption></figure>
            <figure class="chart" id="chart-oldest"><figcaption><span class="title">Oldest waiting job</span><span class="muted total"></span></figcaption></figure>
          </div>
          <h2>Queues</h2>
          <div class="scroll"><table id="queues"><thead><tr><th>class</th><th class="n">depth</th><th class="n">consumers</th><th class="n">waiting</th>
          <th class="n">running</th><th class="n">completed (1h)</th><th class="n">failed (1h)</th><th class="n" id="p50-head">p50</th>
          <th class="n" id="p95-head">p95</th><th class="n">oldest waiting</th></tr></thead><tbody></tbody></table></div>
          <p>Dead letters: <span id="dead-count">–</span> · Alerts firing: <a class="link" id="firing-count">–</a></p></section>
        <section id="jobs" class="tab"><h2>Jobs</h2>
          <form id="job-filter" class="toolbar">
            <select name="state"><option value="">any state</option><option>available</option><option>scheduled</option>
            <option>running</option><option>retryable</option><option>completed</option><option>cancelled</option><option>discarded</option></select>
            <select name="class"><option value="">any class</option><option>maintenance</option><option>refresh</option>
            <option>import</option><option>analytics</option></select>
            <input name="kind" placeholder="kind" size="12"><input name="target" placeholder="target" size="8">
            <input name="q" placeholder="id, kind or unique key" size="22"><button>Filter</button></form>
          <div class="scroll"><table id="job-table"><thead><tr><th>id</th><th>kind</th><th>class</th><th>state</th><th class="n">attempt</th>
          <th>enqueued</th><th class="n">run time</th><th>progress</th></tr></thead><tbody></tbody></table></div>
          <button id="more" style="display:none">More</button>
          <div id="job-detail"></div></section>
        <section id="dead" class="tab"><h2>Dead letters</h2><div class="scroll"><table id="dead-table"><thead><tr><th>job</th><th>kind</th><th>class</th>
          <th>reason</th><th>error</th><th>failed</th><th></th></tr></thead><tbody></tbody></table></div></section>
        <section id="schedules" class="tab"><h2>Schedules</h2><div class="scroll"><table id="schedule-table"><thead><tr><th>name</th><th>spec</th><th>kind</th>
          <th>last fire</th><th>next fire</th><th></th></tr></thead><tbody></tbody></table></div></section>
        <section id="maintenance" class="tab">
          <div class="toolbar"><label>target <input id="health-target" value="main" size="10"></label><button id="health-load">Load</button>
            <span class="muted small" id="health-note"></span></div>
          <h2>Alerts</h2><div class="scroll"><table id="alert-table"><thead><tr><th>state</th><th>alert</th><th class="n">value</th>
          <th class="n">threshold</th><th>since</th><th>for</th><th>report</th><th>detail</th></tr></thead><tbody></tbody></table></div>
          <h2>Health checks</h2><div class="checks" id="checks"></div>
          <h2>Partitioned tables</h2><div class="scroll"><table id="partition-table"><thead><tr><th>table</th><th>interval</th>
          <th class="n">ahead</th><th class="n">asked</th><th class="n">partitions</th><th class="n">rows in DEFAULT</th><th>retention</th>
          <th>next retention</th></tr></thead><tbody></tbody></table></div>
          <h2>Materialized views</h2><div class="scroll"><table id="view-table"><thead><tr><th>view</th><th>mode</th><th>last refresh</th>
          <th>age vs schedule</th><th>schedules</th><th class="n">took</th><th class="n">rows</th><th>dependent queries</th></tr></thead><tbody></tbody></table></div>
          <details><summary>raw JSON of every report</summary><pre id="health"></pre></details></section>
        <section id="imports" class="tab"><h2>Imports</h2>
          <form id="import-form" class="toolbar"><input name="spec" placeholder="import spec, e.g. leads" required>
            <input type="file" name="file" required><label><input type="checkbox" name="dry_run"> dry run</label>
            <button>Upload and import</button></form>
          <div class="scroll"><table id="import-table"><thead><tr><th>job</th><th>file</th><th>state</th><th>progress</th><th class="n">rows</th>
          <th class="n">inserted</th><th class="n">updated</th><th class="n">unchanged</th><th class="n">rejected</th><th></th></tr></thead><tbody></tbody></table></div></section>
        </main>
        <script>{{SCRIPT}}</script></body></html>
        """#
}
