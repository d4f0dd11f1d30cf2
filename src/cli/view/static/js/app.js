// The page's entry: picks the view from the URL path (/, /span/<id>, /service, /heap, /diff) and renders it.
import { errorBox } from './api.js';
import { el, replace } from './dom.js';
import { renderDiffPage } from './pages/diff.js';
import { renderHeapPage } from './pages/heap.js';
import { renderListPage } from './pages/list.js';
import { renderServicePage } from './pages/service.js';
import { renderSpanPage } from './pages/span.js';

const ROUTES = [
  { pattern: /^\/$/, nav: 'list', render: (main) => renderListPage(main) },
  { pattern: /^\/span\/([0-9a-fA-F]{16})$/, nav: 'list', render: (main, match) => renderSpanPage(main, match[1].toLowerCase()) },
  { pattern: /^\/service$/, nav: 'service', render: (main) => renderServicePage(main) },
  { pattern: /^\/heap$/, nav: 'heap', render: (main) => renderHeapPage(main) },
  { pattern: /^\/diff$/, nav: 'diff', render: (main) => renderDiffPage(main) },
];

async function start() {
  const main = document.getElementById('main');
  for (const route of ROUTES) {
    const match = route.pattern.exec(location.pathname);
    if (!match) continue;
    for (const link of document.querySelectorAll('[data-nav]')) link.classList.toggle('active', link.dataset.nav === route.nav);
    try {
      await route.render(main, match);
    } catch (error) {
      replace(main, errorBox(error));
    }
    return;
  }
  replace(main, el('div', { class: 'error-box', text: `No page at ${location.pathname}.` }), el('a', { href: '/', text: 'Back to the requests' }));
}

start();
