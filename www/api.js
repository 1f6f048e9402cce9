// SPDX-License-Identifier: MPL-2.0
// The REST API: JSON in and out, the CSRF token on unsafe methods, the
// case version as If-Match, and errors turned into plain words.

import { t } from './i18n.js';

const state = {
	csrf: null,
	onUnauthorized: null, // called once per 401 of a logged-in page
	onNetwork: null, // called with true (reachable) or false
};

export function setCsrf(token) {
	state.csrf = token;
}

export function onUnauthorized(fn) {
	state.onUnauthorized = fn;
}

export function onNetwork(fn) {
	state.onNetwork = fn;
}

export class ApiError extends Error {
	constructor(status, code, message, body) {
		super(message);
		this.status = status;
		this.code = code;
		this.body = body;
	}

	// What the agent reads.
	get plain() {
		if (this.status === 0) return t('err_network');
		if (this.code === 'not_configured') return t('err_not_configured');
		const msg = this.message || '';
		switch (this.status) {
		case 400: return t('err_400', { msg });
		case 401: return t('session_expired');
		case 403: return t('err_403');
		case 404: return t('err_404');
		case 409: return t('err_409', { msg });
		case 413: return t('err_413');
		case 422: return t('err_422', { msg });
		case 429: return t('err_429');
		case 503: return t('err_503');
		default: return t('err_other', { status: this.status });
		}
	}
}

// api('GET', '/cases', {query, body, ifMatch, quiet401})
export async function api(method, path, opts = {}) {
	let url = '/api/v1' + path;
	if (opts.query) {
		const q = new URLSearchParams();
		for (const [k, v] of Object.entries(opts.query)) {
			if (v !== null && v !== undefined && v !== '') q.set(k, String(v));
		}
		const s = q.toString();
		if (s) url += '?' + s;
	}
	const headers = { Accept: 'application/json' };
	if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
	if (method !== 'GET' && state.csrf) headers['X-CSRF-Token'] = state.csrf;
	if (opts.ifMatch !== undefined) headers['If-Match'] = `"${opts.ifMatch}"`;
	let resp;
	try {
		resp = await fetch(url, {
			method,
			headers,
			body: opts.body !== undefined ? JSON.stringify(opts.body) : undefined,
			credentials: 'same-origin',
			cache: 'no-store',
		});
	} catch (e) {
		state.onNetwork?.(false);
		throw new ApiError(0, 'network', String(e?.message ?? e), null);
	}
	state.onNetwork?.(true);
	let body = null;
	if (resp.status !== 204) {
		const text = await resp.text();
		try {
			body = text ? JSON.parse(text) : null;
		} catch {
			body = null;
		}
	}
	if (resp.ok) return body;
	const err = new ApiError(resp.status, body?.error?.code ?? 'http_' + resp.status,
		body?.error?.message ?? resp.statusText, body);
	if (resp.status === 401 && !opts.quiet401) state.onUnauthorized?.(err);
	throw err;
}
