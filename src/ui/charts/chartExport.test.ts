import { describe, expect, it } from 'vitest';
import { composeChartSvg, escapeXml } from './chartExport';

describe('chart pictures', () => {
  const chart = '<svg class="recharts-surface" width="400" height="200" viewBox="0 0 400 200"><path d="M0,0L10,10"/></svg>';

  it('wraps the chart in a standalone SVG with its title and a legend, names escaped', () => {
    const { svg, width, height } = composeChartSvg({ svg: chart, width: 400, height: 200, title: 'Loss <raw & smooth>', legend: [{ name: 'LoRA "r=8"', color: '#3257d6' }] });
    expect(width).toBe(400);
    expect(height).toBe(28 + 200 + 6 + 18 + 12);
    expect(svg.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="400" height="264"')).toBe(true);
    expect(svg).toContain('<svg x="0" y="28" class="recharts-surface"');
    expect(svg).toContain('>Loss &lt;raw &amp; smooth&gt;</text>');
    expect(svg).toContain('stroke="#3257d6"');
    expect(svg).toContain('>LoRA &quot;r=8&quot;</text>');
    expect(svg.trim().endsWith('</svg>')).toBe(true);
  });

  it('wraps the legend onto more rows when it does not fit', () => {
    const legend = Array.from({ length: 6 }, (_, i) => ({ name: `a run with a long name ${i}`, color: '#000' }));
    const one = composeChartSvg({ svg: chart, width: 2000, height: 200, title: 't', legend });
    const narrow = composeChartSvg({ svg: chart, width: 300, height: 200, title: 't', legend });
    expect(narrow.height - one.height).toBe(5 * 18);
  });

  it('escapes the five XML specials that matter in text and attributes', () => {
    expect(escapeXml(`a<b>&"c"`)).toBe('a&lt;b&gt;&amp;&quot;c&quot;');
  });
});
