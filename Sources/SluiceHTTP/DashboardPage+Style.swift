// DashboardPage+Style: the dashboard's CSS. Dense by design (13 px, tight tables, charts in a
// grid that falls to one column on a phone), colours as custom properties with a dark set that
// follows the system (`prefers-color-scheme`). Tables scroll inside their own box, so a phone
// never scrolls the whole page sideways.

extension DashboardPage {
    static let style = #"""
        :root{--bg:#fff;--fg:#1c2430;--muted:#667085;--line:#e4e7ec;--panel:#f7f8fa;--head:#13202f;--head-fg:#e6edf5;
          --accent:#2f6fd0;--ok:#16803c;--ok-bg:#e7f6ec;--warn:#a15c00;--warn-bg:#fff4e0;--bad:#b42318;--bad-bg:#fdecea;
          --c0:#2f6fd0;--c1:#c2410c;--c2:#0f8a6a;--c3:#8e44ad;color-scheme:light dark}
        @media (prefers-color-scheme: dark){:root{--bg:#0f141a;--fg:#dbe2ea;--muted:#8b98a8;--line:#263140;--panel:#161d26;
          --head:#0a0f14;--head-fg:#dbe2ea;--accent:#6aa2ff;--ok:#4ade80;--ok-bg:#0f2a1a;--warn:#fbbf24;--warn-bg:#2e2410;
          --bad:#f87171;--bad-bg:#341414;--c0:#6aa2ff;--c1:#fb923c;--c2:#34d399;--c3:#c084fc}}
        *{box-sizing:border-box} html,body{margin:0;background:var(--bg);color:var(--fg)}
        body{font:13px/1.35 system-ui,-apple-system,"Segoe UI",sans-serif;font-variant-numeric:tabular-nums}
        header{background:var(--head);color:var(--head-fg);padding:.35em .8em;display:flex;flex-wrap:wrap;gap:.2em .9em;align-items:center;
          position:sticky;top:0;z-index:5}
        header strong{font-size:15px;margin-right:.4em} header nav{display:flex;flex-wrap:wrap;gap:.1em}
        header nav a{color:var(--head-fg);opacity:.75;cursor:pointer;text-decoration:none;padding:.25em .55em;border-radius:4px}
        header nav a.on{opacity:1;background:rgba(255,255,255,.12);font-weight:600}
        .live{margin-left:auto;font-size:12px;opacity:.85} header form{margin:0}
        button,input,select{font:inherit;color:inherit;background:var(--panel);border:1px solid var(--line);border-radius:4px;padding:.22em .55em}
        button{cursor:pointer} button:hover{border-color:var(--accent)} button.on{background:var(--accent);color:#fff;border-color:var(--accent)}
        header button{background:transparent;color:var(--head-fg);border-color:rgba(255,255,255,.3)}
        .banner{background:var(--bad-bg);color:var(--bad);padding:.45em 1em;display:none}
        main{padding:.6em .9em;max-width:1600px;margin:0 auto} h2{font-size:15px;margin:.9em 0 .4em} h3{font-size:13px;margin:0}
        section.tab{display:none} section.tab.on{display:block}
        .toolbar{display:flex;flex-wrap:wrap;gap:.4em;align-items:center;margin:.3em 0}
        .scroll{overflow-x:auto;max-width:100%}
        table{border-collapse:collapse;width:100%} th,td{border-bottom:1px solid var(--line);padding:.22em .45em;text-align:left;vertical-align:top}
        th{font-weight:600;color:var(--muted);white-space:nowrap;background:var(--panel)} td.n,th.n{text-align:right;white-space:nowrap}
        tbody tr:hover{background:var(--panel)}
        .muted{color:var(--muted)} .small{font-size:12px} .wrap{white-space:normal;overflow-wrap:anywhere;max-width:48em;min-width:14em}
        .grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,390px),1fr));gap:.6em}
        figure.chart{margin:0;border:1px solid var(--line);border-radius:6px;padding:.4em .5em .3em;background:var(--bg);position:relative;min-width:0}
        figure.chart figcaption{display:flex;justify-content:space-between;gap:.5em;font-weight:600;margin-bottom:.2em}
        figure.chart svg{display:block;width:100%;height:auto;overflow:visible}
        svg .grid line{stroke:var(--line)} svg text{fill:var(--muted);font-size:11px} svg path{fill:none;stroke-width:1.6}
        svg .cursor{stroke:var(--muted);stroke-dasharray:2 2}
        .legend{display:flex;flex-wrap:wrap;gap:.2em .8em;font-size:12px;color:var(--muted)} .legend i{display:inline-block;width:10px;height:3px;margin-right:4px;vertical-align:middle}
        .tip{position:absolute;pointer-events:none;background:var(--panel);border:1px solid var(--line);border-radius:4px;padding:.25em .45em;
          font-size:12px;display:none;white-space:nowrap;z-index:3}
        .badge{display:inline-block;padding:.05em .5em;border-radius:9px;font-size:11.5px;font-weight:600;white-space:nowrap}
        .st-ok,.state-completed{color:var(--ok)} .badge.st-ok{background:var(--ok-bg)}
        .st-warning{color:var(--warn)} .badge.st-warning{background:var(--warn-bg)}
        .st-firing,.state-discarded,.state-cancelled{color:var(--bad)} .badge.st-firing{background:var(--bad-bg)}
        .badge.st-none{background:var(--panel);color:var(--muted)} .state-running{color:var(--accent)}
        .checks{display:grid;grid-template-columns:repeat(auto-fill,minmax(min(100%,520px),1fr));gap:.6em}
        .check{border:1px solid var(--line);border-left:4px solid var(--line);border-radius:6px;padding:.45em .6em;min-width:0}
        .check[data-status=firing]{border-left-color:var(--bad)} .check[data-status=warning]{border-left-color:var(--warn)}
        .check[data-status=ok]{border-left-color:var(--ok)}
        .check .head{display:flex;flex-wrap:wrap;gap:.3em .6em;align-items:baseline} .check .head .muted{margin-left:auto}
        .check p{margin:.3em 0} .check table{margin:.3em 0} .check td.wrap{min-width:12em}
        details>summary{cursor:pointer;color:var(--accent);font-size:12px;margin:.2em 0}
        pre{background:var(--panel);padding:.5em;overflow:auto;max-height:24em;font-size:12px;margin:.3em 0}
        .id{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px;white-space:nowrap}
        .copy{border:none;background:none;padding:0 .2em;color:var(--muted);font-size:12px} .copy:hover{color:var(--accent)}
        time{white-space:nowrap;border-bottom:1px dotted var(--muted)}
        .bar{background:var(--line);height:6px;width:90px;display:inline-block;border-radius:3px;overflow:hidden;vertical-align:middle}
        .bar i{background:var(--accent);height:6px;display:block}
        a.link{color:var(--accent);cursor:pointer;text-decoration:none} a.link:hover{text-decoration:underline} a.link.st-firing{color:var(--bad);font-weight:600}
        @media (max-width:640px){main{padding:.4em} header{gap:.2em .4em} header nav a{padding:.2em .35em} .hide-s{display:none}}
        """#
}
