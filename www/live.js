// SPDX-License-Identifier: MPL-2.0
// The live stream (GET /api/v1/events). EventSource reconnects by itself
// after a dropped stream, sending Last-Event-ID; when it gives up (an HTTP
// error, such as the 503 of a restarting server) we open a new one with
// ?last_event_id= after a growing pause. <html data-live> tells the state:
// connecting, ready (up to date), down.

const TYPES = ['case.created', 'case.updated', 'call.offered', 'call.queued', 'call.answered', 'call.ended'];

export class Live {
	constructor({ onEvent, onState, onReload, onClosed }) {
		this.onEvent = onEvent;
		this.onClosed = onClosed;
		this.onState = onState;
		this.onReload = onReload;
		this.es = null;
		this.lastId = null;
		this.timer = null;
		this.delay = 1000;
		this.stopped = true;
		this.state = null;
	}

	start() {
		this.stopped = false;
		this.open();
	}

	stop() {
		this.stopped = true;
		clearTimeout(this.timer);
		this.timer = null;
		if (this.es) this.es.close();
		this.es = null;
		this.setState(null);
	}

	// Now, not after the pause (the banner's button).
	retry() {
		if (this.stopped) return;
		clearTimeout(this.timer);
		this.timer = null;
		this.delay = 1000;
		this.open();
	}

	setState(s) {
		if (this.state === s) return;
		this.state = s;
		if (s) document.documentElement.dataset.live = s;
		else delete document.documentElement.dataset.live;
		this.onState?.(s);
	}

	open() {
		if (this.es) this.es.close();
		this.setState(this.state === 'down' ? 'down' : 'connecting');
		const url = '/api/v1/events' + (this.lastId !== null ? `?last_event_id=${encodeURIComponent(this.lastId)}` : '');
		const es = new EventSource(url);
		this.es = es;
		const seen = (e) => {
			if (e.lastEventId) this.lastId = e.lastEventId;
		};
		for (const type of TYPES) {
			es.addEventListener(type, (e) => {
				seen(e);
				let data;
				try {
					data = JSON.parse(e.data);
				} catch {
					return;
				}
				this.onEvent?.(type, data);
			});
		}
		es.addEventListener('ready', (e) => {
			seen(e);
			try {
				const d = JSON.parse(e.data);
				if (d && d.id !== undefined) this.lastId = String(d.id);
			} catch {
				// the id: line is enough
			}
			this.delay = 1000;
			this.setState('ready');
		});
		es.addEventListener('reload', (e) => {
			seen(e);
			try {
				const d = JSON.parse(e.data);
				if (d && d.id !== undefined) this.lastId = String(d.id);
			} catch {
				// the id: line is enough
			}
			this.onReload?.();
		});
		es.onerror = () => {
			if (this.es !== es || this.stopped) return;
			this.setState('down');
			if (es.readyState === EventSource.CLOSED) {
				es.close();
				this.onClosed?.();
				this.es = null;
				clearTimeout(this.timer);
				this.timer = setTimeout(() => {
					this.timer = null;
					if (!this.stopped) this.open();
				}, this.delay);
				this.delay = Math.min(this.delay * 2, 15000);
			}
			// else EventSource retries by itself (after the server's retry:)
		};
	}
}
