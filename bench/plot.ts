// Latency against offered load, as a hand-written SVG: one panel per latency, p50 and p99 lines for ours and the
// baseline. No plotting library: the figure is a few polylines, and the results folder must open in any browser.

export interface LoadPoint {
  /** Offered load, invoices / s. */
  rate: number;
  ours: Record<LatencyName, { p50: number; p99: number }>;
  baseline: Record<LatencyName, { p50: number; p99: number }>;
}

export type LatencyName = 'awaiting' | 'update' | 'e2e';

const PANELS: { key: LatencyName; title: string }[] = [
  { key: 'awaiting', title: 'start → AWAITING_APPROVAL' },
  { key: 'update', title: 'approval Update' },
  { key: 'e2e', title: 'start → COMPLETED' },
];

const SERIES = [
  { kind: 'ours', stat: 'p50', color: '#1f5fbf', dash: '' },
  { kind: 'ours', stat: 'p99', color: '#1f5fbf', dash: '6 4' },
  { kind: 'baseline', stat: 'p50', color: '#c0561b', dash: '' },
  { kind: 'baseline', stat: 'p99', color: '#c0561b', dash: '6 4' },
] as const;

const PANEL = { width: 320, height: 240, left: 64, right: 12, top: 28, bottom: 40 };

/** A round step near a fifth of the span, so the axis reads 0, 50, 100… rather than 0, 47.3, 94.6… */
function niceStep(max: number): number {
  const raw = max / 5;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= raw);
  return step ?? raw;
}

function ticks(max: number): number[] {
  const step = niceStep(max > 0 ? max : 1);
  const values: number[] = [];
  // Up to the first tick at or past the largest value, so no point is drawn outside the axes.
  for (let value = 0; values.length < 2 || (values[values.length - 1] ?? 0) < max; value += step) {
    values.push(Number(value.toPrecision(6)));
  }
  return values;
}

/** Coordinates to one decimal: enough for a screen, and the file stays readable. */
function n(value: number): string {
  return value.toFixed(1);
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function panel(points: readonly LoadPoint[], key: LatencyName, title: string, offsetX: number): string {
  const plotW = PANEL.width - PANEL.left - PANEL.right;
  const plotH = PANEL.height - PANEL.top - PANEL.bottom;
  const xTicks = ticks(Math.max(...points.map((p) => p.rate)));
  const yTicks = ticks(Math.max(...points.flatMap((p) => [p.ours[key].p99, p.baseline[key].p99])));
  const xMax = xTicks[xTicks.length - 1] ?? 1;
  const yMax = yTicks[yTicks.length - 1] ?? 1;
  const x = (rate: number) => offsetX + PANEL.left + (rate / xMax) * plotW;
  const y = (ms: number) => PANEL.top + plotH - (ms / yMax) * plotH;
  const parts: string[] = [
    `<text x="${offsetX + PANEL.left + plotW / 2}" y="16" text-anchor="middle" font-weight="bold">${escape(title)}</text>`,
  ];
  // The grid first, so the axes and the lines are drawn over it.
  for (const value of yTicks) {
    parts.push(
      `<line x1="${x(0)}" y1="${n(y(value))}" x2="${x(xMax)}" y2="${n(y(value))}" stroke="#e4e4e4"/>`,
      `<text x="${x(0) - 6}" y="${n(y(value) + 4)}" text-anchor="end">${value}</text>`,
    );
  }
  parts.push(
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(xMax)}" y2="${y(0)}" stroke="#333"/>`,
    `<line x1="${x(0)}" y1="${y(0)}" x2="${x(0)}" y2="${y(yMax)}" stroke="#333"/>`,
  );
  for (const value of xTicks) {
    parts.push(
      `<line x1="${n(x(value))}" y1="${y(0)}" x2="${n(x(value))}" y2="${y(0) + 4}" stroke="#333"/>`,
      `<text x="${n(x(value))}" y="${y(0) + 16}" text-anchor="middle">${value}</text>`,
    );
  }
  parts.push(
    `<text x="${x(xMax / 2)}" y="${PANEL.height - 6}" text-anchor="middle">offered load (invoices / s)</text>`,
    `<text transform="translate(${offsetX + 12} ${PANEL.top + plotH / 2}) rotate(-90)" text-anchor="middle">ms</text>`,
  );
  for (const series of SERIES) {
    const coords = points.map((p) => `${x(p.rate).toFixed(1)},${y(p[series.kind][key][series.stat]).toFixed(1)}`);
    parts.push(
      `<polyline points="${coords.join(' ')}" fill="none" stroke="${series.color}" stroke-width="2"` +
        `${series.dash ? ` stroke-dasharray="${series.dash}"` : ''}/>`,
      ...points.map(
        (p) =>
          `<circle cx="${x(p.rate).toFixed(1)}" cy="${y(p[series.kind][key][series.stat]).toFixed(1)}" r="2.5" ` +
          `fill="${series.color}"/>`,
      ),
    );
  }
  return parts.join('\n');
}

/** The whole figure: three panels side by side and a legend under them. Points are sorted by rate. */
export function latencySvg(points: readonly LoadPoint[], caption: string): string {
  const sorted = [...points].sort((a, b) => a.rate - b.rate);
  const width = PANEL.width * PANELS.length;
  const height = PANEL.height + 48;
  const legend = SERIES.map((series, index) => {
    const lx = 20 + index * 150;
    const ly = PANEL.height + 18;
    return (
      `<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${series.color}" stroke-width="2"` +
      `${series.dash ? ` stroke-dasharray="${series.dash}"` : ''}/>` +
      `<text x="${lx + 34}" y="${ly + 4}">${series.kind} ${series.stat}</text>`
    );
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" ` +
      `font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    ...PANELS.map((p, index) => panel(sorted, p.key, p.title, index * PANEL.width)),
    ...legend,
    `<text x="20" y="${height - 6}" fill="#555">${escape(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
