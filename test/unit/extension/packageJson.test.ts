import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { modelFileExtensions } from '../../../src/formats/registry';
import { analysisViewType, Commands, configSection, Settings } from '../../../src/shared/commandIds';

interface Manifest {
	main: string;
	activationEvents: string[];
	capabilities: { untrustedWorkspaces: { supported: boolean } };
	contributes: {
		commands: { command: string; title: string; category: string }[];
		menus: Record<string, { command: string; when?: string }[]>;
		configuration: { properties: Record<string, { default: unknown }> };
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
	});

	void it('activates only on Python files and its own panel (commands are implicit)', () => {
		assert.deepEqual([...manifest.activationEvents].sort(), ['onLanguage:python', `onWebviewPanel:${analysisViewType}`]);
		assert.ok(!manifest.activationEvents.includes('*'));
		assert.equal(manifest.capabilities.untrustedWorkspaces.supported, true);
	});

	void it('shows the analyze command for every model file type the readers open', () => {
		const explorer = manifest.contributes.menus['explorer/context'].find((m) => m.command === Commands.analyzeModel);
		assert.ok(explorer?.when);
		const match = /resourceExtname =~ \/(.+)\/i/.exec(explorer.when);
		assert.ok(match, explorer.when);
		const pattern = new RegExp(match[1], 'i');
		for (const ext of modelFileExtensions.filter((e) => e.startsWith('.'))) {
			assert.ok(pattern.test(ext), `${ext} is not in the explorer menu's when clause`);
		}
		assert.ok(!pattern.test('.py') && !pattern.test('.json'));
		assert.match(explorer.when, /resourceFilename == model\.json/);
		assert.ok(manifest.contributes.menus['editor/title'].some((m) => m.command === Commands.analyzeModel));
		const hidden = manifest.contributes.menus.commandPalette.filter((m) => m.when === 'false').map((m) => m.command).sort();
		assert.deepEqual(hidden, [Commands.revealLayer, Commands.showPanel].sort());
	});

	void it('declares every setting the extension reads', () => {
		const properties = Object.keys(manifest.contributes.configuration.properties).sort();
		assert.deepEqual(properties, Object.values(Settings).map((key) => `${configSection}.${key}`).sort());
		assert.equal(manifest.contributes.configuration.properties['crossbarLens.hardware.tileSize'].default, 64);
		assert.equal(manifest.contributes.configuration.properties['crossbarLens.codeLens.enabled'].default, true);
	});
});
