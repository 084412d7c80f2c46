import * as vscode from 'vscode';
import { isAbortError } from '../../core/errors';
import { openModel } from '../../formats/registry';
import { designSpaceSettings, sweepGraph } from '../../hardware/sweep';
import type { HardwareProfile, SweepResultDto } from '../../shared/analysis';
import type { AnalysisEntry } from '../analysisStore';
import type { PanelHost } from './panelHost';

/**
 * The panel's design space: after each analysis, the model's totals at every crossbar size ×
 * slicing × ADC law (src/hardware/sweep.ts: one read of the file), computed in the background
 * with progress, cancelled by a newer one. Switching the profile does not recompute it (the sweep
 * already holds every size); a new version of the file or another tol / linear-layer choice does.
 */
export class DesignSpaceSection implements vscode.Disposable {
	private result: SweepResultDto | undefined;
	private key: string | undefined;
	private inflight: AbortController | undefined;

	constructor(private readonly host: PanelHost) {}

	/** The design space the panel shows (the HTML export draws it too), once computed. */
	get current(): SweepResultDto | undefined {
		return this.result;
	}

	/** The panel shows `entry`: compute its design space unless the one shown already fits. */
	update(entry: AnalysisEntry): void {
		const { profile, model } = entry;
		const settings = designSpaceSettings(profile);
		const key = [model.mtimeMs, model.sizeBytes, profile.tol, profile.includeLinear, profile.inputSize?.join('x') ?? '', profile.inputBits, profile.adcEnergyPjAt8Bits, settings.crossbarSizes.join(','), settings.slices.join(',')].join('|');
		if (key === this.key) {
			this.replay();
			return;
		}
		this.key = key;
		this.result = undefined;
		void this.compute(profile, key);
	}

	replay(): void {
		if (this.result) void this.host.post({ type: 'designSpace/result', result: this.result });
	}

	dispose(): void {
		this.inflight?.abort();
	}

	private async compute(profile: HardwareProfile, key: string): Promise<void> {
		this.inflight?.abort();
		const controller = new AbortController();
		this.inflight = controller;
		const { path, services } = this.host;
		try {
			void this.host.post({ type: 'designSpace/pending', progress: 'Sweeping crossbar sizes…' });
			const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: 'Crossbar: design space' }, async (progress) => {
				const graph = await openModel(path, { inputSize: profile.inputSize, signal: controller.signal }, path);
				try {
					return await sweepGraph(graph, profile, designSpaceSettings(profile), {
						signal: controller.signal,
						onProgress: (done, total, layer) => {
							progress.report({ message: `${layer} (${done}/${total})` });
							// Large models: say how far the sweep is (small ones finish before anyone reads it).
							if (total >= 20 && done % Math.ceil(total / 10) === 0) void this.host.post({ type: 'designSpace/pending', progress: `Sweeping crossbar sizes: layer ${done} of ${total}…` });
						},
					});
				} finally {
					await graph.close();
				}
			});
			if (controller.signal.aborted || this.key !== key) return;
			this.result = result;
			void this.host.post({ type: 'designSpace/result', result });
		} catch (ex) {
			if (isAbortError(ex) || controller.signal.aborted) return;
			const message = ex instanceof Error ? ex.message : String(ex);
			services.log.warn(`design space of ${path}: ${message}`);
			void this.host.post({ type: 'designSpace/error', message });
		} finally {
			if (this.inflight === controller) this.inflight = undefined;
		}
	}
}
