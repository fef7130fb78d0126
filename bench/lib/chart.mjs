// Hand-written SVG: one panel per scenario, one horizontal bar per row (the median), a whisker to
// the p95, the value at the end. tsinit's rows in orange, the reference row (Node's floor, the best
// anchor or the plain pipe) in dark grey, the other anchors in blue.

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function fmtVal(v, unit) {
  if (!Number.isFinite(v)) return '–';
  const digits = v >= 100 ? 0 : v >= 10 ? 1 : v >= 1 ? 2 : 3;
  return `${v.toFixed(digits)} ${unit}`;
}

export function renderChart(results, meta) {
  const W = 960;
  const LABEL = 360;
  const BAR = 440;
  const ROW = 20;
  const panels = results.filter((s) => s.rows && s.rows.length);
  let y = 84;
  const parts = [];
  for (const s of panels) {
    parts.push(`<text x="16" y="${y}" class="title">${esc(s.title)} <tspan class="unit">(${esc(s.unit)}, ${s.better} is better)</tspan></text>`);
    y += 10;
    const max = Math.max(...s.rows.map((r) => Math.max(r.stats.p95, r.stats.median)).filter(Number.isFinite)) * 1.02 || 1;
    const scale = (v) => (Number.isFinite(v) ? Math.max(0, (v / max) * BAR) : 0);
    for (const r of s.rows) {
      const cls = r.ref ? 'ref' : r.info ? 'info' : r.init === 'tsinit' ? 'ts' : 'anchor';
      const w = scale(r.stats.median);
      const p95 = scale(r.stats.p95);
      parts.push(
        `<text x="${LABEL - 8}" y="${y + 14}" class="label" text-anchor="end">${esc(r.subject)}</text>`,
        `<rect x="${LABEL}" y="${y + 4}" width="${w.toFixed(1)}" height="${ROW - 8}" class="${cls}"/>`,
        `<line x1="${(LABEL + w).toFixed(1)}" x2="${(LABEL + p95).toFixed(1)}" y1="${y + ROW / 2}" y2="${y + ROW / 2}" class="whisker"/>`,
        `<line x1="${(LABEL + p95).toFixed(1)}" x2="${(LABEL + p95).toFixed(1)}" y1="${y + 6}" y2="${y + ROW - 6}" class="whisker"/>`,
        `<text x="${(LABEL + Math.max(w, p95) + 6).toFixed(1)}" y="${y + 14}" class="value">${esc(fmtVal(r.stats.median, s.unit))}${
          Number.isFinite(r.ratio) ? ` · ${r.ratio.toFixed(2)}x` : ''
        }</text>`,
      );
      y += ROW;
    }
    y += 26;
  }
  const H = y + 10;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif">
<style>
  .title { font-size: 14px; font-weight: bold; fill: #212529; }
  .unit { font-weight: normal; fill: #868e96; }
  .label { font-size: 12px; fill: #343a40; }
  .value { font-size: 11px; fill: #495057; }
  .head { font-size: 16px; font-weight: bold; fill: #212529; }
  .sub { font-size: 11px; fill: #868e96; }
  .ts { fill: #e8590c; }
  .ref { fill: #495057; }
  .anchor { fill: #74c0fc; }
  .info { fill: #ced4da; }
  .whisker { stroke: #343a40; stroke-width: 1; }
</style>
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="16" y="24" class="head">tsinit vs tini, dumb-init, catatonit, s6-log, pm2-runtime: median bars, whisker to p95, ratio to the grey reference</text>
<text x="16" y="40" class="sub">${esc(meta)}</text>
<rect x="16" y="48" width="10" height="10" class="ts"/><text x="30" y="57" class="sub">tsinit</text>
<rect x="80" y="48" width="10" height="10" class="ref"/><text x="94" y="57" class="sub">reference (Node's floor, best anchor, plain pipe)</text>
<rect x="390" y="48" width="10" height="10" class="anchor"/><text x="404" y="57" class="sub">other anchors</text>
<rect x="500" y="48" width="10" height="10" class="info"/><text x="514" y="57" class="sub">for information (not a target)</text>
${parts.join('\n')}
</svg>
`;
}
