// Writes the `when` clauses of package.json's model-file menus from the one list of model files
// (src/formats/registry.ts modelFileTypes). test/unit/extension/packageJson.test.ts fails when they
// disagree and names this script:   node --import tsx scripts/sync-menus.ts
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { menuWhenClauses } from '../src/formats/registry';

interface MenuItem { command: string; when?: string }
const path = join(__dirname, '..', 'package.json');
const manifest = JSON.parse(readFileSync(path, 'utf8')) as { contributes: { menus: Record<string, MenuItem[]> } };
const wanted = menuWhenClauses();
let changed = 0;
for (const [menu, items] of Object.entries(manifest.contributes.menus)) {
	// The palette shows commands by their own rules (trust, panels), not by a file's name.
	if (menu === 'commandPalette') continue;
	for (const item of items) {
		const when = wanted[item.command];
		if (when !== undefined && item.when !== undefined && item.when !== 'false' && item.when !== when) {
			item.when = when;
			changed++;
		}
	}
}
writeFileSync(path, `${JSON.stringify(manifest, null, 2)}\n`);
console.log(`package.json: ${changed} menu when clause${changed === 1 ? '' : 's'} updated`);
