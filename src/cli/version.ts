declare const CROSSBAR_LENS_VERSION: string | undefined;

/** "crossbar-lens 0.1.0": the package version, defined by esbuild at build time ('dev' under tsx). */
export function toolVersion(): string {
	return `crossbar-lens ${typeof CROSSBAR_LENS_VERSION === 'string' ? CROSSBAR_LENS_VERSION : 'dev'}`;
}
