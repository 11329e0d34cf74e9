/**
 * Charts out of the page as pictures: the chart's own SVG (what recharts drew) inside a larger
 * SVG that adds the title and a legend (recharts draws its legend in HTML, outside the SVG) on
 * a white background, so the file stands alone in a paper or a slide. PNG is that SVG drawn on a
 * canvas at twice the size.
 */

export interface LegendEntry {
  name: string;
  color: string;
}

export interface ChartPicture {
  /** The chart's <svg> as markup (XMLSerializer output, or outerHTML). */
  svg: string;
  width: number;
  height: number;
  title: string;
  legend: readonly LegendEntry[];
}

const TITLE_HEIGHT = 28;
const LEGEND_ROW = 18;
const PAD = 12;

export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Legend entries in rows that fit the width (text width estimated at 7 px a character at 12 px). */
function legendRows(legend: readonly LegendEntry[], width: number): Array<Array<LegendEntry & { x: number }>> {
  const rows: Array<Array<LegendEntry & { x: number }>> = [];
  let row: Array<LegendEntry & { x: number }> = [];
  let x = PAD;
  for (const e of legend) {
    const w = 22 + e.name.length * 7 + 16;
    if (row.length && x + w > width - PAD) {
      rows.push(row);
      row = [];
      x = PAD;
    }
    row.push({ ...e, x });
    x += w;
  }
  if (row.length) rows.push(row);
  return rows;
}

/** A standalone SVG document: title, the chart, and its legend. */
export function composeChartSvg(p: ChartPicture): { svg: string; width: number; height: number } {
  const width = Math.ceil(p.width);
  const rows = legendRows(p.legend, width);
  const chartTop = TITLE_HEIGHT;
  const legendTop = chartTop + Math.ceil(p.height) + 6;
  const height = legendTop + rows.length * LEGEND_ROW + PAD;
  // The inner <svg> needs no namespace of its own: it inherits the outer default namespace.
  const inner = p.svg.replace(/^<svg\b/, `<svg x="0" y="${chartTop}"`);
  const legend = rows
    .flatMap((row, i) =>
      row.map((e) => {
        const y = legendTop + i * LEGEND_ROW + LEGEND_ROW / 2;
        return (
          `<line x1="${e.x}" y1="${y}" x2="${e.x + 16}" y2="${y}" stroke="${escapeXml(e.color)}" stroke-width="3"/>` +
          `<text x="${e.x + 22}" y="${y + 4}" font-size="12" fill="#1b1f24">${escapeXml(e.name)}</text>`
        );
      }),
    )
    .join('');
  const svg =
    `<?xml version="1.0" encoding="UTF-8"?>\n` +
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif">` +
    `<rect width="100%" height="100%" fill="#ffffff"/>` +
    `<text x="${PAD}" y="19" font-size="14" font-weight="600" fill="#1b1f24">${escapeXml(p.title)}</text>` +
    inner +
    legend +
    `</svg>\n`;
  return { svg, width, height };
}

/** The chart <svg> recharts drew inside `root` (not the small icons of its legend). */
export function findChartSvg(root: Element): SVGSVGElement | null {
  return root.querySelector<SVGSVGElement>('.recharts-wrapper > svg.recharts-surface');
}

export function pictureOf(root: Element, title: string, legend: readonly LegendEntry[]): ChartPicture | null {
  const el = findChartSvg(root);
  if (!el) return null;
  const box = el.getBoundingClientRect();
  const svg = new XMLSerializer().serializeToString(el);
  return { svg, width: box.width || Number(el.getAttribute('width')), height: box.height || Number(el.getAttribute('height')), title, legend };
}

/** Draws the SVG on a canvas at `scale`× and encodes it as PNG. */
export async function svgToPng(svg: string, width: number, height: number, scale = 2): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([svg], { type: 'image/svg+xml' }));
  try {
    const img = new Image();
    img.decoding = 'sync';
    await new Promise<void>((resolve, reject) => {
      img.onload = () => resolve();
      img.onerror = () => reject(new Error('The chart could not be drawn as a picture (the browser refused its SVG).'));
      img.src = url;
    });
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(width * scale);
    canvas.height = Math.round(height * scale);
    const ctx = canvas.getContext('2d');
    if (!ctx) throw new Error('This browser gave no 2D canvas to draw the PNG on; download the SVG instead.');
    ctx.scale(scale, scale);
    ctx.drawImage(img, 0, 0, width, height);
    return await new Promise<Blob>((resolve, reject) => canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('The PNG could not be encoded; download the SVG instead.'))), 'image/png'));
  } finally {
    URL.revokeObjectURL(url);
  }
}
