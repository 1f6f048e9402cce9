// SPDX-License-Identifier: MPL-2.0
// The logged-in user's id. GET /api/v1/me names the user but not the id,
// which "take" (PATCH assignee_id) and "mine" need; we learn it from what
// the API does show: the user list (supervisors, admins), a case assigned
// to "me", or the created_by of a note or reply the user wrote.

import { api } from './api.js';
import { ctx } from './ui.js';

function key() {
	return 'ktd.uid.' + (ctx.user?.login ?? '');
}

export function learnUserId(id) {
	if (typeof id !== 'number' || !ctx.user) return ctx.userId;
	ctx.userId = id;
	try {
		sessionStorage.setItem(key(), String(id));
	} catch {
		// not kept over a reload then
	}
	return id;
}

export async function ensureUserId() {
	if (ctx.userId !== null) return ctx.userId;
	if (!ctx.user) return null;
	try {
		const v = Number(sessionStorage.getItem(key()));
		if (v > 0) return learnUserId(v);
	} catch {
		// go on asking the API
	}
	if (['supervisor', 'admin'].includes(ctx.user.role)) {
		try {
			const r = await api('GET', '/users');
			const me = r.items.find((u) => u.login === ctx.user.login);
			if (me) return learnUserId(me.id);
		} catch {
			// fall through
		}
	}
	const r = await api('GET', '/cases', { query: { assignee_id: 'me', limit: 1 } });
	if (r.items.length) return learnUserId(r.items[0].assignee_id);
	return null;
}
