import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { menuWhenClauses } from '../../../src/formats/registry';
import { analysisViewType, Commands, configSection, Settings } from '../../../src/shared/commandIds';

interface Manifest {
	main: string;
	activationEvents: string[];
	capabilities: { untrustedWorkspaces: { supported: boolean | 'limited'; restrictedConfigurations?: string[] } };
	contributes: {
		commands: { command: string; title: string; category: string; enablement?: string }[];
		menus: Record<string, { command: string; when?: string }[]>;
		configuration: { properties: Record<string, { default: unknown }> };
		taskDefinitions: { type: string }[];
	};
}

const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as Manifest;

void describe('package.json contributions', () => {
	void it('declares every command id with the Crossbar category, and only those', () => {
		const declared = manifest.contributes.commands.map((c) => c.command).sort();
		assert.deepEqual(declared, Object.values(Commands).sort());
		for (const command of manifest.contributes.commands) {
			assert.equal(command.category, 'Crossbar');
		}
		const titles = Object.fromEntries(manifest.contributes.commands.map((c) => [c.command, c.title]));
		assert.equal(titles[Commands.analyzeModel], 'Analyze crossbar sparsity');
		assert.equal(titles[Commands.pruneModel], 'Prune with D.U.B…');
		assert.equal(titles[Commands.exportReport], 'Export crossbar report');
		assert.equal(titles[Commands.runFineTune], 'Run D.U.B. fine-tune');
	});

	void it('offers Run D.U.B. fine-tune only in trusted workspaces (it runs training code)', () => {
		const command = manifest.contributes.commands.find((c) => c.command === Commands.runFineTune);
		assert.equal(command?.enablement, 'isWorkspaceTrusted');
		const palette = manifest.contributes.menus.commandPalette.find((m) => m.command === Commands.runFineTune);
		assert.equal(palette?.when, 'isWorkspaceTrusted');
		const explorer = manifest.contributes.menus['explorer/context'].find((m) => m.command === Commands.runFineTune);
		assert.match(explorer?.when ?? '', /^isWorkspaceTrusted && /);
		assert.ok(/onnx/.test(explorer?.when ?? '') && /pt\|pth/.test(explorer?.when ?? ''), explorer?.when);
		// The PyTorch engine runs as a task of this type.
		assert.deepEqual(manifest.contributes.taskDefinitions.map((t) => t.type), ['crossbarLens']);
	});

	void it('activates only on Python files and its own panel (commands are implicit)', () => {
		assert.deepEqual([...manifest.activationEvents].sort(), ['onLanguage:python', `onWebviewPanel:${analysisViewType}`]);
		assert.ok(!manifest.activationEvents.includes('*'));
	});

	void it('works in restricted mode except for fine-tuning, whose interpreter setting is restricted', () => {
		assert.equal(manifest.capabilities.untrustedWorkspaces.supported, 'limited');
		assert.deepEqual(manifest.capabilities.untrustedWorkspaces.restrictedConfigurations, ['crossbarLens.training.pythonPath']);
	});

	void it('shows the model-file commands for exactly the files the readers open (one list: src/formats/registry.ts)', () => {
		const wanted = menuWhenClauses();
		let checked = 0;
		for (const [menu, items] of Object.entries(manifest.contributes.menus)) {
			for (const item of items) {
				if (wanted[item.command] === undefined || item.when === 'false' || menu === 'commandPalette') continue;
				assert.equal(item.when, wanted[item.command], `${menu} → ${item.command}: run \`node --import tsx scripts/sync-menus.ts\``);
				checked++;
			}
		}
		assert.equal(checked, 6, 'explorer (4), editor title (1) and its context menu (1)');
		const analyze = wanted['crossbarLens.analyzeModel'];
		assert.match(analyze, /\|safetensors\|/);
		assert.match(analyze, /\|tar\|/, 'a .pth.tar checkpoint is a model file');
		assert.match(analyze, /resourceFilename == model\.json/);
		assert.doesNotMatch(wanted['crossbarLens.runFineTune'], /safetensors|npz/, 'no engine trains from weights alone');
		assert.ok(manifest.contributes.menus['editor/title'].some((m) => m.command === Commands.analyzeModel));
		const hidden = manifest.contributes.menus.commandPalette.filter((m) => m.when === 'false').map((m) => m.command).sort();
		assert.deepEqual(hidden, [Commands.revealLayer, Commands.showPanel].sort());
	});

	void it('declares every setting the extension reads', () => {
		const properties = Object.keys(manifest.contributes.configuration.properties).sort();
		assert.deepEqual(properties, Object.values(Settings).map((key) => `${configSection}.${key}`).sort());
		assert.equal(manifest.contributes.configuration.properties['crossbarLens.hardware.crossbarSize'].default, 64);
		assert.equal(manifest.contributes.configuration.properties['crossbarLens.codeLens.enabled'].default, true);
	});
});
