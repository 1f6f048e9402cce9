// SPDX-License-Identifier: MPL-2.0
// Placeholder front end: shows whether the server is ready.
const el = document.getElementById('status');
fetch('/readyz', { headers: { Accept: 'application/json' } })
	.then((r) => r.json().then((body) => ({ ok: r.ok, body })))
	.then(({ ok, body }) => {
		el.textContent = ok ? 'klar' : 'ikke klar: ' + (body.error ? body.error.message : '');
		el.dataset.state = ok ? 'ready' : 'not_ready';
	})
	.catch(() => { el.textContent = 'ingen forbindelse'; });
