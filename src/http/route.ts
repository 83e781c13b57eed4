import type { Request, Response } from 'express';
import type { RegistryContext } from '../registry/context.ts';
import type { RepoName } from '../shared/names.ts';

export interface RouteParams {
  name: RepoName;
  /** The path segment after the resource (reference, digest or upload id); '' when none. */
  arg: string;
}

export type Handler = (ctx: RegistryContext, req: Request, res: Response, p: RouteParams) => Promise<void>;

export type MethodTable = Partial<Record<'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE', Handler>>;
