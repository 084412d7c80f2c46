import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import * as vscode from 'vscode';

/** Scripts on, and only the bundle's own folder and media/ readable by the webview. */
export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewPanelOptions & vscode.WebviewOptions {
	return {
		enableScripts: true,
		enableFindWidget: true,
		localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist', 'webview'), vscode.Uri.joinPath(extensionUri, 'media')],
	};
}

interface Bundle {
	readonly script: string;
	readonly style: string;
}

let bundle: Bundle | undefined;

/**
 * The webview bundle (dist/webview/main.js + main.css), read once per window. It is inlined in
 * the page rather than linked: each linked file is a round trip from the webview through the
 * workbench to the extension host's file system (about 100 ms each in code-server), which the
 * first paint of a panel would otherwise wait for.
 */
function loadBundle(extensionUri: vscode.Uri): Bundle {
	if (!bundle) {
		const read = (name: string): string => readFileSync(vscode.Uri.joinPath(extensionUri, 'dist', 'webview', name).fsPath, 'utf8');
		bundle = {
			// Inside <script>, only "</script" could end the element early; "<\/" is the same string in JS.
			script: read('main.js').replace(/<\/(script)/gi, '<\\/$1').replace(/\n\/\/# sourceMappingURL=.*\s*$/, '\n'),
			style: read('main.css').replace(/<\/(style)/gi, '<\\/$1').replace(/\n\/\*# sourceMappingURL=.*\s*$/, '\n'),
		};
	}
	return bundle;
}

/**
 * The panel's HTML: a strict CSP (nothing from the network; the inlined script and style run
 * only with this load's CSPRNG nonce) and the bundled app.
 */
export function renderWebviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri): string {
	const nonce = randomBytes(16).toString('base64');
	const { script, style } = loadBundle(extensionUri);
	const csp = [
		`default-src 'none'`,
		`img-src ${webview.cspSource} data:`,
		`style-src 'nonce-${nonce}'`,
		`font-src ${webview.cspSource}`,
		`script-src 'nonce-${nonce}'`,
	].join('; ');
	return /* html */ `<!DOCTYPE html>
<html lang="en">
<head>
	<meta charset="UTF-8">
	<meta http-equiv="Content-Security-Policy" content="${csp}">
	<meta name="viewport" content="width=device-width, initial-scale=1.0">
	<style nonce="${nonce}">${style}</style>
	<title>Crossbar Analysis</title>
</head>
<body>
	<div id="app" aria-busy="true"><p class="loading">Loading crossbar analysis…</p></div>
	<script type="module" nonce="${nonce}">${script}</script>
</body>
</html>`;
}
