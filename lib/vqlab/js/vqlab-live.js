// vqlab live widgets: the decoders' forward pass and the two widgets (see vqlab/web.py).
(function () {
"use strict";
if (window.vqlabLive) { window.vqlabLive.mountAll(); return; }

function half(h) {  // IEEE 754 binary16 -> number (exact)
  const s = h & 0x8000 ? -1 : 1, e = (h >> 10) & 0x1f, f = h & 0x3ff;
  if (e === 0) return s * f * Math.pow(2, -24);
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * Math.pow(2, e - 15);
}

function floats(packed) {  // "f16:<base64>" or "f32:<base64>", little-endian -> Float32Array
  const bin = atob(packed.slice(4)), bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  if (packed.startsWith("f32:")) return new Float32Array(bytes.buffer);
  const h = new Uint16Array(bytes.buffer), out = new Float32Array(h.length);
  for (let i = 0; i < h.length; i++) out[i] = half(h[i]);
  return out;
}

function prepared(model) {
  if (!model._ready) {
    for (const L of model.layers) {
      if (L.kernel) { L.w = floats(L.kernel); L.b = floats(L.bias); }
    }
    if (model.codebook) model.cb = floats(model.codebook);
    model._ready = true;
  }
  return model;
}

function activate(y, name) {
  if (name === "relu") { for (let i = 0; i < y.length; i++) if (y[i] < 0) y[i] = 0; }
  else if (name === "sigmoid") { for (let i = 0; i < y.length; i++) y[i] = 1 / (1 + Math.exp(-y[i])); }
  return y;
}

// x: (n_in,) -> (units,); kernel (n_in, units)
function dense(x, L) {
  const n = x.length, m = L.units, y = Float32Array.from(L.b), wt = L.w;
  for (let i = 0; i < n; i++) {
    const v = x[i]; if (v === 0) continue;
    const row = i * m;
    for (let j = 0; j < m; j++) y[j] += v * wt[row + j];
  }
  return activate(y, L.activation);
}

// TensorFlow's "same" padding: what goes before the first row (the rest goes after).
function padBefore(size, k, s) {
  const out = Math.ceil(size / s);
  return Math.floor(Math.max((out - 1) * s + k - size, 0) / 2);
}

// x: (H, W, Ci) -> (H*s, W*s, Co), kernel (k, k, Ci, Co); the gradient of a "same" conv.
// Per input pixel: its k*k*Co contributions in one pass over a (Ci, k*k*Co) copy of the
// kernel (long inner loops), then added into the output window.
function conv2dTranspose(x, shape, L) {
  const [H, W, Ci] = shape, k = L.kernel_size, s = L.strides, Co = L.filters, KC = k * k * Co;
  const OH = H * s, OW = W * s, pt = padBefore(OH, k, s), pl = padBefore(OW, k, s);
  if (!L.wT) {  // (k, k, Ci, Co) -> (Ci, k, k, Co)
    L.wT = new Float32Array(Ci * KC);
    for (let kk = 0; kk < k * k; kk++) for (let ic = 0; ic < Ci; ic++) for (let oc = 0; oc < Co; oc++)
      L.wT[ic * KC + kk * Co + oc] = L.w[(kk * Ci + ic) * Co + oc];
  }
  const y = new Float32Array(OH * OW * Co), wt = L.wT, bias = L.b, acc = new Float32Array(KC);
  for (let iy = 0; iy < H; iy++) for (let ix = 0; ix < W; ix++) {
    const ib = (iy * W + ix) * Ci;
    acc.fill(0);
    for (let ic = 0; ic < Ci; ic++) {
      const v = x[ib + ic]; if (v === 0) continue;
      const wb = ic * KC;
      for (let j = 0; j < KC; j++) acc[j] += v * wt[wb + j];
    }
    for (let ky = 0; ky < k; ky++) {
      const oy = iy * s + ky - pt; if (oy < 0 || oy >= OH) continue;
      for (let kx = 0; kx < k; kx++) {
        const ox = ix * s + kx - pl; if (ox < 0 || ox >= OW) continue;
        const ob = (oy * OW + ox) * Co, ab = (ky * k + kx) * Co;
        for (let oc = 0; oc < Co; oc++) y[ob + oc] += acc[ab + oc];
      }
    }
  }
  for (let p = 0; p < OH * OW; p++) for (let oc = 0; oc < Co; oc++) y[p * Co + oc] += bias[oc];
  return [activate(y, L.activation), [OH, OW, Co]];
}

// x: (H, W, Ci) -> (H/s, W/s, Co), kernel (k, k, Ci, Co), "same" padding.
function conv2d(x, shape, L) {
  const [H, W, Ci] = shape, k = L.kernel_size, s = L.strides, Co = L.filters;
  const OH = Math.ceil(H / s), OW = Math.ceil(W / s), pt = padBefore(H, k, s), pl = padBefore(W, k, s);
  const y = new Float32Array(OH * OW * Co), wt = L.w, bias = L.b;
  for (let oy = 0; oy < OH; oy++) for (let ox = 0; ox < OW; ox++) {
    const ob = (oy * OW + ox) * Co;
    for (let oc = 0; oc < Co; oc++) y[ob + oc] = bias[oc];
    for (let ky = 0; ky < k; ky++) {
      const iy = oy * s + ky - pt; if (iy < 0 || iy >= H) continue;
      for (let kx = 0; kx < k; kx++) {
        const ix = ox * s + kx - pl; if (ix < 0 || ix >= W) continue;
        const ib = (iy * W + ix) * Ci, kb = (ky * k + kx) * Ci * Co;
        for (let ic = 0; ic < Ci; ic++) {
          const v = x[ib + ic]; if (v === 0) continue;
          const wb = kb + ic * Co;
          for (let oc = 0; oc < Co; oc++) y[ob + oc] += v * wt[wb + oc];
        }
      }
    }
  }
  return [activate(y, L.activation), [OH, OW, Co]];
}

function forward(model, x, shape) {
  for (const L of model.layers) {
    if (L.type === "dense") { x = dense(x, L); shape = [L.units]; }
    else if (L.type === "reshape") { shape = L.shape; }
    else if (L.type === "conv2d_transpose") { [x, shape] = conv2dTranspose(x, shape, L); }
    else if (L.type === "conv2d") { [x, shape] = conv2d(x, shape, L); }
    else throw new Error("vqlab live: unknown layer type " + L.type);
  }
  if (model.clip) for (let i = 0; i < x.length; i++) x[i] = Math.min(model.clip[1], Math.max(model.clip[0], x[i]));
  return x;
}

function model(name) {
  const m = (window.VQLAB_LIVE_MODELS || {})[name];
  if (!m) throw new Error("vqlab live: model " + name + " not loaded");
  return prepared(m);
}

// z: [z1, z2] -> image (H*W*C,) in [0, 1]
function decodeLatent(name, z) {
  const m = model(name);
  return forward(m, Float32Array.from(z), [m.latent_dim]);
}

// grid: tokens (h*w,), row-major -> image (H*W*C,)
function decodeTokens(name, grid) {
  const m = model(name), D = m.code_dim, x = new Float32Array(grid.length * D);
  for (let p = 0; p < grid.length; p++) {
    const t = grid[p];
    if (!(Number.isInteger(t) && t >= 0 && t < m.num_codes)) throw new Error("token " + t + " outside the codebook [0, " + m.num_codes + ")");
    x.set(m.cb.subarray(t * D, (t + 1) * D), p * D);
  }
  return forward(m, x, [m.grid_shape[0], m.grid_shape[1], D]);
}

// Token edits as vqlab.tokens does them (grids are row-major arrays of h*w ints).
function shiftAxis(g, h, w, by, axis, fill) {  // axis "x": columns move right by `by`; "y": rows move down
  const size = axis === "x" ? w : h;
  if (Math.abs(by) >= size) throw new Error("shift by " + by + " is not smaller than the grid's size " + size);
  if (by === 0) return g.slice();
  const out = new Array(h * w);
  for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) {
    const i = axis === "x" ? c : r, src = i - by;
    let v;
    if (src >= 0 && src < size) v = axis === "x" ? g[r * w + src] : g[src * w + c];
    else if (fill === "wrap") { const s2 = (src + size) % size; v = axis === "x" ? g[r * w + s2] : g[s2 * w + c]; }
    else if (fill === "edge") { const e = by > 0 ? 0 : size - 1; v = axis === "x" ? g[r * w + e] : g[e * w + c]; }
    else v = fill;
    out[r * w + c] = v;
  }
  return out;
}
const tokens = {
  shift: (g, h, w, dx, dy, fill) => shiftAxis(shiftAxis(g, h, w, dx, "x", fill), h, w, dy, "y", fill),
  rotate90(g, h, w, k) {  // np.rot90: counter-clockwise quarter turns (square grids)
    let out = g.slice();
    for (let t = 0; t < ((k % 4) + 4) % 4; t++) {
      const src = out; out = new Array(h * w);
      for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = src[c * w + (w - 1 - r)];
    }
    return out;
  },
  flip(g, h, w, axis) {
    const out = new Array(h * w);
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++)
      out[r * w + c] = axis === "x" ? g[r * w + (w - 1 - c)] : g[(h - 1 - r) * w + c];
    return out;
  },
  combine(a, b, h, w, axis, split) {  // cells before split along axis from a, the rest from b
    const out = new Array(h * w);
    for (let r = 0; r < h; r++) for (let c = 0; c < w; c++) out[r * w + c] = (axis === "x" ? c : r) < split ? a[r * w + c] : b[r * w + c];
    return out;
  },
};

// ---- drawing and controls (the layouts of vqlab.widgets) -------------------------------
const MARKER = "rgb(220,20,60)", HERE = (document.currentScript && document.currentScript.src) || "";
const ZOOM = (side, target) => Math.max(1, Math.floor(target / side));  // vqlab.widgets.zoom_for; target: the exported PANEL

function el(tag, attrs, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "style") e.style.cssText = v; else if (k.startsWith("on")) e.addEventListener(k.slice(2), v); else e.setAttribute(k, v);
  }
  for (const c of children) e.append(c);
  return e;
}
const row = (...children) => el("div", { class: "vqlab-live-row", style: "display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin:4px 0" }, ...children);
// panels shrink together to the page's width (the Python widget's row of panels, scaled)
const panels = (...children) => el("div", { class: "vqlab-live-panels", style: "display:flex;flex-wrap:nowrap;align-items:center;gap:4px;margin:4px 0" }, ...children);
const canvas = (wd, ht, extra) => el("canvas", { width: wd, height: ht, style: "flex:0 1 auto;min-width:0;max-width:100%;height:auto;" + (extra || "") });
const button = (label, action, onclick) => el("button", { type: "button", "data-action": action, onclick,
  style: "font:13px sans-serif;padding:3px 10px;border:1px solid #bbb;border-radius:3px;background:#eee;cursor:pointer" }, label);

function slider(label, min, max, step, value, onchange, live, digits) {
  const input = el("input", { type: "range", min, max, step, value, "aria-label": label, style: "width:10em;vertical-align:middle" });
  const out = el("output", { style: "display:inline-block;min-width:3.2em;font:13px monospace" });
  const show = () => { out.value = (+input.value).toFixed(digits || 0); };
  input.addEventListener("input", () => { show(); if (live) onchange(); });
  if (!live) input.addEventListener("change", onchange);
  show();
  input.show = show;
  return [el("label", { style: "font:13px sans-serif;white-space:nowrap" }, el("span", { style: "display:inline-block;min-width:5.5em;text-align:right;margin-right:6px" }, label), input, " ", out), input];
}
function select(label, options, value, onchange) {
  const s = el("select", { "aria-label": label, onchange, style: "font:13px sans-serif" }, ...options.map(([text, v]) => el("option", { value: v }, text)));
  s.value = value;
  return [el("label", { style: "font:13px sans-serif;white-space:nowrap" }, el("span", { style: "margin-right:6px" }, label), s), s];
}

function drawGray(cv, pixels, side) {  // pixels in [0, 1] (side*side), nearest-neighbour zoom to the canvas
  const small = document.createElement("canvas"); small.width = small.height = side;
  const sctx = small.getContext("2d"), img = sctx.createImageData(side, side);
  for (let i = 0; i < side * side; i++) {
    const v = Math.floor(Math.min(1, Math.max(0, pixels[i])) * 255 + 0.5);
    img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v; img.data[4 * i + 3] = 255;
  }
  sctx.putImageData(img, 0, 0);
  const ctx = cv.getContext("2d"); ctx.imageSmoothingEnabled = false;
  ctx.drawImage(small, 0, 0, cv.width, cv.height);
}
function image(src, onload) { const i = new Image(); i.onload = onload; i.src = src; return i; }

function timed(root, update) {
  return (...args) => {
    const t0 = performance.now();
    update(...args);
    window.vqlabLive.timings.push(performance.now() - t0);
  };
}

function latentExplorer(root, m) {
  const side = m.image_shape[0], zoom = ZOOM(side, m.panel), mean = floats(m.mean), std = m.std ? floats(m.std) : null;
  const [aCol, bCol, aRow, bRow] = m.map, E = m.extent;
  let z = [0, 0], index = 0, shown = false, bg = null, sheet = null;
  const scatter = canvas(360, 360, "cursor:crosshair"), decoded = canvas(side * zoom, side * zoom), digit = canvas(side * zoom, side * zoom);
  const status = el("div", { class: "vqlab-live-status", style: "font:13px sans-serif" });
  const [z1Row, z1] = slider("z1", -E, E, m.step, 0, () => setPoint(+z1.value, +z2.value), true, 2);
  const [z2Row, z2] = slider("z2", -E, E, m.step, 0, () => setPoint(+z1.value, +z2.value), true, 2);
  const [digitRow, digitSl] = slider("test digit", 0, m.n_digits - 1, 1, 0, () => selectDigit(+digitSl.value), false);
  const showQ = el("input", { type: "checkbox", "aria-label": "show q(z|x)", onchange: () => { shown = showQ.checked && !!std; draw(); } });
  if (!std) showQ.disabled = true;
  const toMean = button("go to its mean", "to-mean", () => setPoint(mean[2 * index], mean[2 * index + 1]));
  const toPix = (a, b) => [aCol * a + bCol, aRow * b + bRow];
  scatter.addEventListener("click", (ev) => {
    const r = scatter.getBoundingClientRect();
    const col = (ev.clientX - r.left) * scatter.width / r.width, rw = (ev.clientY - r.top) * scatter.height / r.height;
    setPoint((col - bCol) / aCol, (rw - bRow) / aRow);
  });
  const draw = timed(root, () => {
    const ctx = scatter.getContext("2d");
    if (bg) { scatter.width = bg.width; scatter.height = bg.height; ctx.drawImage(bg, 0, 0); }
    if (shown) {
      ctx.fillStyle = "#000";
      for (let t = 0; t < 400; t++) {
        const a = 2 * Math.PI * t / 399;
        const [c, r] = toPix(mean[2 * index] + 2 * std[2 * index] * Math.cos(a), mean[2 * index + 1] + 2 * std[2 * index + 1] * Math.sin(a));
        ctx.fillRect(Math.round(c), Math.round(r), 2, 2);
      }
    }
    const [c, r] = toPix(z[0], z[1]);
    ctx.lineWidth = 2;
    ctx.strokeStyle = "#fff"; ctx.beginPath(); ctx.arc(c, r, 4, 0, 2 * Math.PI); ctx.stroke();
    ctx.strokeStyle = MARKER; ctx.beginPath(); ctx.arc(c, r, 6, 0, 2 * Math.PI); ctx.stroke();
    drawGray(decoded, decodeLatent(m.name, z), side);
    let q = "";
    if (shown) q = ", q(z|x): mean (" + mean[2 * index].toFixed(2) + ", " + mean[2 * index + 1].toFixed(2) + "), std ("
      + std[2 * index].toFixed(3) + ", " + std[2 * index + 1].toFixed(3) + ")";
    status.textContent = "z = (" + z[0].toFixed(2) + ", " + z[1].toFixed(2) + ")  |  test digit " + index + " (a " + m.labels[index] + ")" + q;
  });
  function setPoint(a, b) {
    z = [Math.min(E, Math.max(-E, a)), Math.min(E, Math.max(-E, b))];
    z1.value = z[0]; z2.value = z[1]; z1.show(); z2.show();
    draw();
  }
  function drawDigit() {
    if (!sheet) return;
    const ctx = digit.getContext("2d"); ctx.imageSmoothingEnabled = false;
    const r = Math.floor(index / m.sprite_cols), c = index % m.sprite_cols;
    ctx.drawImage(sheet, c * side, r * side, side, side, 0, 0, digit.width, digit.height);
  }
  function selectDigit(i) { index = i; digitSl.value = i; digitSl.show(); drawDigit(); draw(); }
  bg = image(m.scatter, () => draw());
  sheet = image(new URL(m.sprite, HERE).href, drawDigit);
  root.append(panels(scatter, decoded, digit), row(z1Row, z2Row),
              row(digitRow, el("label", { style: "font:13px sans-serif" }, showQ, " show q(z|x)"), toMean), status);
  root.explorer = { setPoint, selectDigit, get z() { return z; } };
  selectDigit(0);
}

function tokenEditor(root, m) {
  const [h, w] = m.grid_shape, side = m.image_shape[0], zoom = ZOOM(side, m.panel), cell = m.cell, K = m.num_codes;
  const [th, tw] = m.tile, pcols = m.palette_cols;
  let grid = m.original.flat(), code = m.code, lastEdit = "none", palette = null;
  const views = [canvas(side * zoom, side * zoom), canvas(w * cell, h * cell, "cursor:pointer"), canvas(side * zoom, side * zoom), canvas(side * zoom, side * zoom)];
  const [imagePanel, tokensPanel, decodedPanel, secondPanel] = views;
  const paletteCanvas = canvas(10, 10, "cursor:pointer");
  const status = el("div", { class: "vqlab-live-status", style: "font:13px sans-serif" });
  const [dxRow, dx] = slider("dx", -(w - 1), w - 1, 1, m.dx, () => {}, false);
  const [dyRow, dy] = slider("dy", -(h - 1), h - 1, 1, m.dy, () => {}, false);
  const [fillRow, fill] = select("fill", [["background (" + m.background + ")", String(m.background)], ["wrap", "wrap"], ["edge", "edge"]], String(m.background), () => {});
  const [axisRow, axis] = select("axis", [["x", "x"], ["y", "y"]], "x", () => {
    const size = axis.value === "x" ? w : h; split.max = size; split.value = Math.min(+split.value, size); split.show();
  });
  const [splitRow, split] = slider("split", 0, w, 1, m.split, () => {}, false);
  const [codeRow, codeSl] = slider("code", 0, K - 1, 1, code, () => selectCode(+codeSl.value), true);
  const edit = (g, name) => { grid = g; lastEdit = name; render(); };
  const fillValue = () => (fill.value === "wrap" || fill.value === "edge") ? fill.value : +fill.value;
  const actions = {
    shift: () => edit(tokens.shift(grid, h, w, +dx.value, +dy.value, fillValue()), "shift dx=" + dx.value + ", dy=" + dy.value + ", fill " + fill.value),
    rotate: () => edit(tokens.rotate90(grid, h, w, 1), "rotate 90°"),
    flipX: () => edit(tokens.flip(grid, h, w, "x"), "flip x"),
    flipY: () => edit(tokens.flip(grid, h, w, "y"), "flip y"),
    invert: () => edit(grid.map((t) => m.inverse[t]), "invert"),
    reset: () => edit(m.original.flat(), "reset"),
    combine: () => edit(tokens.combine(grid, m.second.flat(), h, w, axis.value, +split.value), "combine along " + axis.value + " at " + split.value),
    paint: (i, j) => { const g = grid.slice(); g[i * w + j] = code; edit(g, "paint code " + code + " at (" + i + ", " + j + ")"); },
  };
  const rotateButton = button("rotate 90°", "rotate", actions.rotate);
  if (h !== w) rotateButton.disabled = true;
  const invertButton = button("invert", "invert", actions.invert);
  if (!m.inverse) invertButton.disabled = true;
  const at = (cv, ev) => { const r = cv.getBoundingClientRect(); return [(ev.clientX - r.left) * cv.width / r.width, (ev.clientY - r.top) * cv.height / r.height]; };
  tokensPanel.addEventListener("click", (ev) => {
    const [c, r] = at(tokensPanel, ev), i = Math.floor(r / cell), j = Math.floor(c / cell);
    if (i >= 0 && i < h && j >= 0 && j < w) actions.paint(i, j);
  });
  paletteCanvas.addEventListener("click", (ev) => {
    const [c, r] = at(paletteCanvas, ev), pr = Math.floor(r / (th + 2)), pc = Math.floor(c / (tw + 2)), k = pr * pcols + pc;
    if (pc < pcols && k >= 0 && k < K) selectCode(k);
  });
  function drawPalette() {
    if (!palette) return;
    paletteCanvas.width = palette.width; paletteCanvas.height = palette.height;
    const ctx = paletteCanvas.getContext("2d"); ctx.drawImage(palette, 0, 0);
    const pr = Math.floor(code / pcols), pc = code % pcols;
    ctx.strokeStyle = MARKER; ctx.lineWidth = 2; ctx.strokeRect(pc * (tw + 2) + 1, pr * (th + 2) + 1, tw - 2, th - 2);
  }
  function showStatus() {
    status.textContent = h + "x" + w + " tokens, " + K + " codes  |  selected code " + code + "  |  last edit: " + lastEdit;
  }
  function selectCode(k) { code = k; codeSl.value = k; codeSl.show(); drawPalette(); showStatus(); }
  const render = timed(root, () => {
    const ctx = tokensPanel.getContext("2d");
    for (let i = 0; i < h; i++) for (let j = 0; j < w; j++) {
      const [r, g, b] = m.colours[grid[i * w + j]];
      ctx.fillStyle = "rgb(" + r + "," + g + "," + b + ")"; ctx.fillRect(j * cell, i * cell, cell, cell);
    }
    if (cell >= 8) {  // cell borders
      ctx.fillStyle = "#fff";
      for (let i = 0; i < h; i++) ctx.fillRect(0, i * cell, w * cell, 1);
      for (let j = 0; j < w; j++) ctx.fillRect(j * cell, 0, 1, h * cell);
    }
    drawGray(decodedPanel, decodeTokens(m.name, grid), side);
    showStatus();
  });
  drawGray(imagePanel, m.images[0].flat().map((v) => v / 255), side);
  drawGray(secondPanel, m.images[1].flat().map((v) => v / 255), side);
  palette = image(m.palette, drawPalette);
  root.append(panels(imagePanel, tokensPanel, decodedPanel, secondPanel),
              row(dxRow, dyRow, fillRow, button("shift", "shift", actions.shift)),
              row(rotateButton, button("flip x", "flip-x", actions.flipX), button("flip y", "flip-y", actions.flipY), invertButton, button("reset", "reset", actions.reset)),
              row(axisRow, splitRow, button("combine", "combine", actions.combine)),
              panels(paletteCanvas), row(codeRow), status);
  root.editor = { actions, selectCode, get tokens() { return grid.slice(); }, get lastEdit() { return lastEdit; } };
  selectCode(code);
  render();
}

function mountAll() {
  for (const root of document.querySelectorAll(".vqlab-live:not([data-mounted])")) {
    const name = root.dataset.model;
    if (!(window.VQLAB_LIVE_MODELS || {})[name]) continue;  // its model script has not run yet
    root.dataset.mounted = "1";
    (root.dataset.widget === "latent-explorer" ? latentExplorer : tokenEditor)(root, model(name));
    root.hidden = false;
  }
}

window.vqlabLive = { decodeLatent, decodeTokens, tokens, timings: [], mountAll };
mountAll();
})();
