/**
 * The part of gaussian-splat-renderer-for-lam 0.0.8 (it ships no types) that web/src/avatar/splat.ts
 * uses, as its build/gaussian-splat-renderer-for-lam.module.js defines it.
 */
declare module 'gaussian-splat-renderer-for-lam' {
  export interface GaussianSplatRendererOptions {
    /** Read every frame: 'Idle' | 'Listening' | 'Thinking' | 'Responding' picks the body animation. */
    getChatState?: () => string;
    /** Read every frame: ARKit blendshape weights. The renderer scales them in place (its motion config). */
    getExpressionData?: () => Record<string, number>;
    /** '0xRRGGBB' or '#RRGGBB'. */
    backgroundColor?: string;
    downloadProgress?: (fraction: number) => void;
    /** Called with 1 once the splats are loaded and the first frame is drawn. */
    loadProgress?: (fraction: number) => void;
  }

  export const SceneRevealMode: { readonly Default: number; readonly Gradual: number; readonly Instant: number };

  export class GaussianSplatRenderer {
    /** The one canvas every instance draws on (created at import). */
    static _canvas: HTMLCanvasElement;
    /** Resolves undefined (and logs with console.error) when the asset cannot be loaded. */
    static getInstance(container: HTMLElement, assetPath: string, options?: GaussianSplatRendererOptions): Promise<GaussianSplatRenderer | undefined>;
    viewer?: {
      requestFrameId: number;
      sceneRevealMode: number;
      camera: import('three').PerspectiveCamera;
      renderer?: { getContext(): WebGL2RenderingContext };
      skinModel?: import('three').SkinnedMesh;
    };
    /** One frame: reads the state and expression, draws, and asks for the next animation frame. */
    render(): void;
    dispose(): void;
  }
}
