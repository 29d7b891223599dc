/** The HTML report's inline stylesheet. */
export const REPORT_CSS = `
:root { --ink: #111827; --muted: #4b5563; --line: #e5e7eb; --bg: #f7f8fa; --ok: #15803d; --ok-bg: #ecfdf3; --no: #b45309; --no-bg: #fff7ed; --warn: #92400e; --warn-bg: #fffbeb; --accent: #1f5fa8; }
* { box-sizing: border-box; }
html { background: var(--bg); }
body { margin: 0; color: var(--ink); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 28px 28px 56px; }
header { border-bottom: 1px solid var(--line); padding-bottom: 14px; margin-bottom: 22px; }
h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 20px; margin: 34px 0 12px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 16px; margin: 22px 0 8px; }
p.sub { margin: 0; color: var(--muted); }
code, pre { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 13px; }
.verdicts { display: grid; grid-template-columns: repeat(auto-fit, minmax(300px, 1fr)); gap: 14px; }
.verdict { border: 1px solid var(--line); border-left: 6px solid var(--no); background: var(--no-bg); border-radius: 8px; padding: 14px 16px; }
.verdict.ok { border-left-color: var(--ok); background: var(--ok-bg); }
.verdict .badge { display: inline-block; font-size: 12px; font-weight: 700; text-transform: uppercase; letter-spacing: 0.04em; color: white; background: var(--no); border-radius: 4px; padding: 1px 8px; }
.verdict.ok .badge { background: var(--ok); }
.verdict.caveats { border-left-color: #ca8a04; background: #fefce8; }
.verdict.caveats .badge { background: #a16207; }
.verdict.worse { border-left-color: #b91c1c; background: #fef2f2; }
.verdict.worse .badge { background: #b91c1c; }
.verdict ul.caveats { margin: 8px 0 0; padding-left: 18px; font-size: 14px; }
td.label { font-weight: 700; white-space: nowrap; }
details { margin: 4px 0 12px; }
details > summary { cursor: pointer; color: var(--accent); }
dl.glossary dt { font-weight: 700; margin-top: 8px; }
dl.glossary dd { margin: 0 0 0 18px; color: var(--muted); }
.verdict h3 { margin: 8px 0 6px; font-size: 17px; word-break: break-word; }
.verdict p.sentence { font-size: 16px; font-weight: 600; margin: 0 0 8px; }
.verdict p.numbers { margin: 0; color: var(--muted); font-size: 14px; }
table { border-collapse: collapse; background: white; border: 1px solid var(--line); border-radius: 6px; margin: 6px 0 14px; font-size: 14px; }
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { background: #f1f3f6; font-weight: 600; white-space: nowrap; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.headline td { font-weight: 600; background: #f3f7fd; }
.kv th { width: 250px; }
.scroll { overflow-x: auto; max-width: 100%; }
.scroll > table { margin-top: 0; }
.kv td { overflow-wrap: anywhere; }
.cols { display: grid; grid-template-columns: repeat(auto-fit, minmax(320px, 1fr)); gap: 10px 24px; align-items: start; }
section.candidate { background: white; border: 1px solid var(--line); border-radius: 10px; padding: 4px 22px 16px; margin: 18px 0; }
section.candidate > h2 { border-bottom: none; margin-top: 18px; }
figure.chart { margin: 8px 0 14px; padding: 0; }
figure.chart svg { max-width: 100%; height: auto; display: block; }
figure.chart figcaption { color: var(--muted); font-size: 13px; margin-top: 4px; }
.warnings { list-style: none; padding: 0; margin: 6px 0 12px; }
.warnings li { background: var(--warn-bg); border: 1px solid #fde68a; color: var(--warn); border-radius: 6px; padding: 8px 12px; margin: 6px 0; }
.warnings li code { font-weight: 700; color: var(--warn); margin-right: 6px; }
.none { color: var(--muted); font-style: italic; }
pre.repro { background: #0f172a; color: #e5e7eb; padding: 14px 16px; border-radius: 8px; overflow-x: auto; white-space: pre-wrap; word-break: break-all; }
footer { margin-top: 40px; color: var(--muted); font-size: 13px; }
`;
