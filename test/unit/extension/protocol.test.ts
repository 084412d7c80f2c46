import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isHostToWebview, isProfileChoice, isPruneSpec, isViewState, isWebviewToHost, protocolVersion, upgradeViewState } from '../../../src/shared/protocol';

void describe('protocol guards: webview → host', () => {
	void it('accepts every well-formed message', () => {
		const good: unknown[] = [
			{ type: 'webview/ready', protocolVersion },
			{ type: 'profile/change', profile: { crossbarSize: 32, slices: 2, adcLaw: 'walden', includeLinear: true } },
			{ type: 'profile/reset' },
			{ type: 'crossbar/select', requestId: 7, layer: 'layer1.0.conv1', block: 0, group: 3 },
			{ type: 'prune/preview', requestId: 1, spec: { method: 'dub', preset: 'resnet18-imagenet' } },
			{ type: 'prune/preview', requestId: 2, spec: { method: 'dub', ratioPercent: 62.5 } },
			{ type: 'prune/preview', requestId: 3, spec: { method: 'dub-tol', tol: 0.001 } },
			{ type: 'prune/save', requestId: 4 },
			{ type: 'report/export', format: 'html' },
			{ type: 'report/export', format: 'csv' },
			{ type: 'model/refresh' },
			{ type: 'log/error', message: 'boom' },
			{ type: 'training/start' },
			{ type: 'training/action', runId: 'run-1', action: 'cancel' },
			{ type: 'training/action', runId: 'run-1', action: 'open' },
			{ type: 'training/action', runId: 'run-1', action: 'reveal' },
		];
		for (const message of good) {
			assert.equal(isWebviewToHost(message), true, JSON.stringify(message));
		}
	});

	void it('rejects unknown types, missing or mistyped fields, and non-objects', () => {
		const bad: unknown[] = [
			null, undefined, 42, 'webview/ready', [], {},
			{ type: 'nope' },
			{ type: 'toString' },
			{ type: '__proto__' },
			{ type: 'webview/ready' },
			{ type: 'webview/ready', protocolVersion: '1' },
			{ type: 'profile/change', profile: { crossbarSize: 64, slices: 1, adcLaw: 'linear', includeLinear: false } },
			{ type: 'profile/change', profile: { crossbarSize: 64.5, slices: 1, adcLaw: 'paper', includeLinear: false } },
			{ type: 'profile/change', profile: { crossbarSize: 64, slices: 1, adcLaw: 'paper' } },
			{ type: 'crossbar/select', requestId: 1, layer: 'x', block: -1, group: 0 },
			{ type: 'crossbar/select', requestId: 1, layer: 'x', block: 0 },
			{ type: 'crossbar/select', requestId: '1', layer: 'x', block: 0, group: 0 },
			{ type: 'crossbar/select', requestId: 1, layer: 5, block: 0, group: 0 },
			{ type: 'prune/preview', requestId: 1, spec: { method: 'dub' } },
			{ type: 'prune/preview', requestId: 1, spec: { method: 'dub', ratioPercent: 101 } },
			{ type: 'prune/preview', requestId: 1, spec: { method: 'magic', ratioPercent: 50 } },
			{ type: 'prune/preview', requestId: 1, spec: { method: 'dub-tol', tol: -1 } },
			{ type: 'report/export', format: 'pdf' },
			{ type: 'log/error', message: 'x'.repeat(30_000) },
			{ type: 'training/action', runId: 'run-1', action: 'delete' },
			{ type: 'training/action', action: 'cancel' },
		];
		for (const message of bad) {
			assert.equal(isWebviewToHost(message), false, JSON.stringify(message));
		}
	});

	void it('checks profile choices and prune specs on their own', () => {
		assert.equal(isProfileChoice({ crossbarSize: 16, slices: 1, adcLaw: 'thermal', includeLinear: false }), true);
		assert.equal(isProfileChoice({ crossbarSize: 1, slices: 1, adcLaw: 'thermal', includeLinear: false }), false);
		assert.equal(isPruneSpec({ method: 'dub', preset: 'vgg11-cifar10' }), true);
		assert.equal(isPruneSpec({ method: 'dub', preset: 7 }), false);
	});
});

void describe('protocol guards: view state and host → webview', () => {
	void it('accepts a view state with a model path, rejects one without', () => {
		assert.equal(isViewState({ modelPath: '/w/m.pt' }), true);
		assert.equal(isViewState({ modelPath: '/w/m.pt', profile: { crossbarSize: 32, slices: 1, adcLaw: 'paper', includeLinear: false }, selectedCrossbar: { layer: 'c', block: 1, group: 2 }, scrollY: 120 }), true);
		assert.equal(isViewState({ modelPath: '' }), false);
		assert.equal(isViewState({ selectedLayer: 'c' }), false);
		assert.equal(isViewState({ modelPath: '/m.pt', selectedCrossbar: { layer: 'c', block: 'x', group: 2 } }), false);
	});

	void it('reads the selection of a view state saved before the rename (selectedTile)', () => {
		const saved = { modelPath: '/w/m.pt', selectedTile: { layer: 'c', block: 1, group: 2 }, scrollY: 120 };
		assert.equal(isViewState(saved), true);
		assert.equal(isViewState({ modelPath: '/m.pt', selectedTile: { layer: 'c', block: 'x', group: 2 } }), false);
		assert.deepEqual(upgradeViewState(saved), { modelPath: '/w/m.pt', selectedCrossbar: { layer: 'c', block: 1, group: 2 }, scrollY: 120 });
		// A state in today's names is kept as it is.
		const current = { modelPath: '/w/m.pt', selectedCrossbar: { layer: 'd', block: 0, group: 0 } };
		assert.deepEqual(upgradeViewState(current), current);
	});

	void it('checks what the host sends', () => {
		const model = { path: '/w/m.pt', label: 'm.pt', sizeBytes: 10, mtimeMs: 1 };
		const result = { tool: 'crossbar-lens', layers: [], totals: {}, profile: {} };
		assert.equal(isHostToWebview({ type: 'analysis/result', model, reason: 'open', result, history: [], profileFromSettings: true, elapsedMs: 3 }), true);
		assert.equal(isHostToWebview({ type: 'analysis/result', model, reason: 'because', result, history: [], profileFromSettings: true, elapsedMs: 3 }), false);
		assert.equal(isHostToWebview({ type: 'analysis/pending', model, reason: 'fileChanged' }), true);
		assert.equal(isHostToWebview({ type: 'crossbar/columns', requestId: 3, error: 'gone' }), true);
		assert.equal(isHostToWebview({ type: 'crossbar/columns', requestId: 3 }), false);
		assert.equal(isHostToWebview({ type: 'layer/reveal', layer: 'features.0' }), true);
		assert.equal(isHostToWebview({ type: 'prune/presets', presets: [{ id: 'vgg11-cifar10', label: 'prs A', layers: 8 }] }), true);
		assert.equal(isHostToWebview({ type: 'prune/presets' }), false);
		assert.equal(isHostToWebview({ type: 'training/capability', capability: { available: false, reason: 'untrusted' } }), true);
		const run = { runId: 'r', points: [], snapshots: [], plannedEpochs: { regularize: 1, finetune: 1, baseline: 1 } };
		assert.equal(isHostToWebview({ type: 'training/update', run }), true);
		assert.equal(isHostToWebview({ type: 'training/update', run: { ...run, points: undefined } }), false);
		assert.equal(isHostToWebview({ source: 'react-devtools' }), false);
	});
});
