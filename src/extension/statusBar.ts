import { basename } from 'node:path';
import * as vscode from 'vscode';
import { Commands } from '../shared/commandIds';
import { formatRatio } from '../shared/format';
import { Disposable } from './disposable';
import { activeModelFile } from './modelFiles';
import type { Services } from './services';

/** The status bar item: ADC energy improvement of the model in focus; click shows its panel. */
export class ModelStatusBar extends Disposable {
	private readonly item = this.register(vscode.window.createStatusBarItem('crossbarLens.improvement', vscode.StatusBarAlignment.Right, 100));

	constructor(private readonly services: Services) {
		super();
		this.item.name = 'Crossbar Lens';
		this.register(services.focus.onDidChange(() => this.update()));
		this.register(services.store.onDidAnalyze((entry) => {
			if (!services.focus.path || services.focus.path === entry.model.path) {
				services.focus.set(entry.model.path);
				this.update();
			}
		}));
		this.register(vscode.window.tabGroups.onDidChangeTabs(() => {
			const active = activeModelFile();
			if (active && services.store.latest(active)) {
				services.focus.set(active);
			}
		}));
		this.update();
	}

	private update(): void {
		const path = this.services.focus.path;
		const entry = path ? this.services.store.latest(path) : undefined;
		if (!path || !entry) {
			this.item.hide();
			return;
		}
		const { totals, profile, adcLaw } = entry.result;
		const improvement = formatRatio(totals.adcEnergyImprovement);
		this.item.text = `$(circuit-board) ${improvement}`;
		const tooltip = new vscode.MarkdownString(undefined, true);
		tooltip.appendMarkdown(`**Crossbar Lens** · ${basename(path)}\n\n`);
		tooltip.appendMarkdown(`ADC energy improvement **${improvement}** (${adcLaw.name} law)\n\n`);
		tooltip.appendMarkdown(`${totals.tiles} crossbars ${profile.crossbarSize}×${profile.crossbarSize} · ADC bits ${totals.adcBitsDense} → ${totals.adcBits}\n\n`);
		tooltip.appendMarkdown('Click to show the crossbar panel.');
		this.item.tooltip = tooltip;
		this.item.accessibilityInformation = { label: `Crossbar Lens: ${basename(path)}, ADC energy improvement ${improvement}` };
		this.item.command = { title: 'Show crossbar panel', command: Commands.showPanel, arguments: [path] };
		this.item.show();
	}
}
