/**
 * A log-log line chart as a standalone SVG document, written by hand (no dependencies): the
 * complexity benchmark's plot of loop-turn cost against the number of dispatchers.
 *
 * @module
 */

/** One line of the chart: a median per x, with the min–max range drawn as an error bar. */
export interface Series {
  label: string;
  color: string;
  /** Dashed line (for a second family of series). */
  dashed?: boolean;
  points: Array<{ x: number; median: number; min: number; max: number }>;
}

/** What to draw. */
export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  /** Formats a y value at a decade tick (e.g. `1e-6` → `1 µs`). */
  formatY: (y: number) => string;
  series: Series[];
  /** A thin dotted line of this slope (on log-log axes) through the first point of the first series. */
  guideSlope?: { slope: number; label: string };
  width?: number;
  height?: number;
}

const escapeXml = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

const r1 = (v: number): string => v.toFixed(1);

/** Decades covering `[lo, hi]`. */
function decades(lo: number, hi: number): [number, number] {
  return [Math.floor(Math.log10(lo)), Math.ceil(Math.log10(hi))];
}

/** Render `spec` as an SVG document. */
export function renderChart(spec: ChartSpec): string {
  const width = spec.width ?? 840;
  const height = spec.height ?? 440;
  const left = 80;
  const right = 300;
  const top = 40;
  const bottom = 56;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const all = spec.series.flatMap((s) => s.points);
  const ys = all.flatMap((p) => [p.min, p.max, p.median]).filter((v) => v > 0);
  const xs = all.map((p) => p.x);
  let [x0, x1] = decades(Math.min(...xs), Math.max(...xs));
  let [y0, y1] = decades(Math.min(...ys), Math.max(...ys));
  if (x1 === x0) x1++;
  if (y1 === y0) y1++;
  const px = (x: number) => left + ((Math.log10(x) - x0) / (x1 - x0)) * plotW;
  const py = (y: number) => top + plotH - ((Math.log10(y) - y0) / (y1 - y0)) * plotH;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${left + plotW / 2}" y="22" text-anchor="middle" font-size="14" font-weight="bold">${escapeXml(spec.title)}</text>`,
  ];
  // Grid and ticks, one per decade (and the 2× and 5× minor lines on y).
  for (let d = x0; d <= x1; d++) {
    const x = px(10 ** d);
    out.push(`<line x1="${r1(x)}" y1="${top}" x2="${r1(x)}" y2="${top + plotH}" stroke="#dddddd"/>`);
    out.push(
      `<text x="${r1(x)}" y="${top + plotH + 18}" text-anchor="middle">${(10 ** d).toLocaleString("en-US")}</text>`,
    );
  }
  for (let d = y0; d <= y1; d++) {
    const y = py(10 ** d);
    out.push(`<line x1="${left}" y1="${r1(y)}" x2="${left + plotW}" y2="${r1(y)}" stroke="#dddddd"/>`);
    out.push(
      `<text x="${left - 6}" y="${r1(y + 4)}" text-anchor="end">${escapeXml(spec.formatY(10 ** d))}</text>`,
    );
    if (d < y1) {
      for (const k of [2, 5]) {
        const ym = py(k * 10 ** d);
        out.push(`<line x1="${left}" y1="${r1(ym)}" x2="${left + plotW}" y2="${r1(ym)}" stroke="#f0f0f0"/>`);
      }
    }
  }
  out.push(
    `<rect x="${left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#333333"/>`,
    `<text x="${left + plotW / 2}" y="${height - 14}" text-anchor="middle">${escapeXml(spec.xLabel)}</text>`,
    `<text x="18" y="${top + plotH / 2}" text-anchor="middle" transform="rotate(-90 18 ${top + plotH / 2})">${escapeXml(spec.yLabel)}</text>`,
  );
  // The guide runs through the last point of the first series, clipped to the plot.
  const firstPoints = spec.series[0]?.points ?? [];
  const anchor = firstPoints[firstPoints.length - 1];
  if (spec.guideSlope !== undefined && anchor !== undefined) {
    const k = spec.guideSlope.slope;
    const xStart = 10 ** x0;
    const yStart = anchor.median * (xStart / anchor.x) ** k;
    out.push(
      `<clipPath id="plot-area"><rect x="${left}" y="${top}" width="${plotW}" height="${plotH}"/></clipPath>`,
      `<line x1="${r1(px(xStart))}" y1="${r1(py(yStart))}" x2="${r1(px(anchor.x))}" y2="${r1(py(anchor.median))}" stroke="#999999" stroke-dasharray="2 3" clip-path="url(#plot-area)"/>`,
      `<text x="${r1((px(xStart) + px(anchor.x)) / 2 + 8)}" y="${r1((py(yStart) + py(anchor.median)) / 2 + 16)}" fill="#777777">${escapeXml(spec.guideSlope.label)}</text>`,
    );
  }
  for (const [i, s] of spec.series.entries()) {
    const pts = s.points.filter((p) => p.median > 0);
    const dash = s.dashed ? ` stroke-dasharray="6 4"` : "";
    const path = pts.map((p, j) => `${j === 0 ? "M" : "L"}${r1(px(p.x))},${r1(py(p.median))}`).join(" ");
    out.push(`<path d="${path}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    for (const p of pts) {
      const x = px(p.x);
      out.push(
        `<line x1="${r1(x)}" y1="${r1(py(p.min))}" x2="${r1(x)}" y2="${r1(py(p.max))}" stroke="${s.color}" stroke-width="1.5"/>`,
        `<circle cx="${r1(x)}" cy="${r1(py(p.median))}" r="3.5" fill="${s.color}"/>`,
      );
    }
    const ly = top + 10 + i * 22;
    const lx = left + plotW + 16;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 28}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      `<circle cx="${lx + 14}" cy="${ly}" r="3.5" fill="${s.color}"/>`,
      `<text x="${lx + 36}" y="${ly + 4}">${escapeXml(s.label)}</text>`,
    );
  }
  out.push("</svg>");
  return `${out.join("\n")}\n`;
}
