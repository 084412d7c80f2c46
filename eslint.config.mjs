// Lint, with the import boundaries of the architecture as rules (docs/architecture.md).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

// The layers below the front ends: no vscode, and no arrow up to a front end (cli, extension).
const pureFolders = ['src/core/**', 'src/formats/**', 'src/hardware/**', 'src/pruning/**', 'src/report/**', 'src/source/**', 'src/training/**'];
const notVscode = { name: 'vscode', message: 'Pure layer: take data in as parameters; only src/extension may import vscode.' };
const notFrontEnds = { group: ['**/cli/*', '**/extension/*', '**/extension'], message: 'Pure layers are used by the front ends (src/cli, src/extension), never the other way round.' };

export default tseslint.config(
	{ ignores: ['dist/**', 'node_modules/**', '.cache/**', 'out/**', 'test-results/**', '**/*.mjs', '**/*.js', '**/*.cjs', 'python/**', 'bench/.data/**'] },
	js.configs.recommended,
	...tseslint.configs.recommended,
	{
		files: ['**/*.ts'],
		languageOptions: {
			globals: { ...globals.node },
			parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
		},
		rules: {
			'@typescript-eslint/no-floating-promises': 'error',
			'@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
			'@typescript-eslint/consistent-type-imports': 'error',
		},
	},
	{
		files: pureFolders,
		rules: { 'no-restricted-imports': ['error', { paths: [notVscode], patterns: [notFrontEnds] }] },
	},
	{
		files: ['src/cli/**'],
		rules: { 'no-restricted-imports': ['error', { paths: [notVscode], patterns: [{ group: ['**/extension/*', '**/extension'], message: 'The CLI and the extension are separate front ends.' }] }] },
	},
	{
		files: ['src/shared/**'],
		rules: {
			'no-restricted-imports': ['error', {
				paths: [notVscode],
				patterns: [
					{ group: ['node:*'], message: 'src/shared runs in the webview too: no Node modules.' },
					{ group: ['../*', '!../shared/*'], message: 'src/shared imports only itself.' },
				],
			}],
		},
	},
	{
		files: ['webview-ui/**'],
		languageOptions: { globals: { ...globals.browser } },
		rules: {
			'no-restricted-imports': ['error', {
				paths: [{ name: 'vscode', message: 'Webview code runs in a browser sandbox.' }],
				patterns: [
					{ group: ['**/src/core/**', '**/src/formats/**', '**/src/hardware/**', '**/src/pruning/**', '**/src/report/**', '**/src/source/**', '**/src/training/**', '**/src/extension/**', '**/src/cli/**'], message: 'Webview may import src/shared only.' },
					{ group: ['node:*'], message: 'Webview code runs in a browser.' },
				],
			}],
		},
	},
);
