import { useId, useState, type ReactNode } from 'react';

/**
 * One collapsible part of the setup column. Closed, it shows its title and a one-line summary of
 * what is chosen; its panel stays mounted (hidden), so loads and effects inside keep running.
 * The header is a real button: Tab reaches it, Enter and Space toggle it, and aria-expanded says
 * which state it is in.
 */
export function Section({ id, title, summary, defaultOpen, children }: { id: string; title: string; summary: ReactNode; defaultOpen: boolean; children: ReactNode }) {
  const [open, setOpen] = useState(defaultOpen);
  const body = `${useId()}-body`;
  return (
    <section className={`setup-section${open ? ' is-open' : ''}`} data-testid={`section-${id}`} data-open={open}>
      <h2 className="section-head">
        <button type="button" aria-expanded={open} aria-controls={body} onClick={() => setOpen((o) => !o)} data-testid={`section-toggle-${id}`}>
          <span className="section-chevron" aria-hidden="true">
            ▸
          </span>
          <span className="section-title">{title}</span>
          <span className="section-summary" data-testid={`section-summary-${id}`}>
            {summary}
          </span>
        </button>
      </h2>
      <div id={body} className="section-body" hidden={!open}>
        {children}
      </div>
    </section>
  );
}
