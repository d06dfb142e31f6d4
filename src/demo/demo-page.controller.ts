import { Controller, Get, Inject, NotFoundException, Param, Req, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { DEMO_OPTIONS, type ResolvedDemoOptions } from './demo-options.js';
import { DemoAssets, type DemoFile } from './demo-assets.js';

/**
 * Same-origin only: the page's scripts, its styles, and its WebSocket to this gateway. `ws:` and
 * `wss:` are listed because not every browser lets 'self' cover WebSocket URLs.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self' ws: wss:",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

/**
 * The demo page at `/`, its files under `/demo/`, and the typed client's ES modules under
 * `/client/`, which the page imports. All answer 404 when the page is off (DEMO_PAGE=false).
 * Not in the OpenAPI document: these are pages and files, not the service's API.
 */
@ApiExcludeController()
@Controller()
export class DemoPageController {
  constructor(
    @Inject(DEMO_OPTIONS) private readonly options: ResolvedDemoOptions,
    private readonly assets: DemoAssets,
  ) {}

  @Get()
  async page(@Req() request: Request, @Res() response: Response): Promise<void> {
    this.ensureEnabled(request);
    const html = await this.assets.page(this.options.publishEnabled);
    response
      .status(200)
      .type('html')
      .set({
        'Cache-Control': 'no-cache',
        'Content-Security-Policy': CONTENT_SECURITY_POLICY,
        'X-Content-Type-Options': 'nosniff',
        'Referrer-Policy': 'no-referrer',
      })
      .send(html);
  }

  @Get('demo/:file')
  async pageAsset(
    @Param('file') file: string,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    this.ensureEnabled(request);
    this.send(request, response, await this.assets.pageAsset(file));
  }

  @Get('client/:file')
  async clientModule(
    @Param('file') file: string,
    @Req() request: Request,
    @Res() response: Response,
  ): Promise<void> {
    this.ensureEnabled(request);
    this.send(request, response, await this.assets.clientModule(file));
  }

  private ensureEnabled(request: Request): void {
    if (!this.options.page) throw notFound(request);
  }

  private send(request: Request, response: Response, file: DemoFile | undefined): void {
    if (!file) throw notFound(request);
    response
      .status(200)
      .set({
        'Content-Type': file.contentType,
        'Cache-Control': 'no-cache',
        'X-Content-Type-Options': 'nosniff',
      })
      .send(file.body);
  }
}

/** The answer of a route that does not exist, so a switched-off page looks like no page at all. */
function notFound(request: Request): NotFoundException {
  return new NotFoundException(`Cannot ${request.method} ${request.path}`);
}
