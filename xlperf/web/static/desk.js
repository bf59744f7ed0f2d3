// xlperf desk: small behaviours that need no build step. Served from the package (CSP 'self').
"use strict";

(function () {
  const form = document.getElementById("upload-form");
  if (!form) return;
  const input = document.getElementById("files");
  const drop = document.getElementById("drop");
  const body = document.querySelector("#upload-results tbody");
  const bar = document.getElementById("upload-progress");
  const count = document.getElementById("upload-count");
  const token = form.querySelector("input[name=csrf_token]").value;
  const maxBytes = Number(form.dataset.maxBytes);
  // Batches of up to 32 files or 8 MiB: a batch's outcomes show a fraction of a second after it
  // is sent, far below the request size limit, and a request's fixed cost (parsing it,
  // opening a transaction) is spread over enough files (8 a request ran at 45% of
  // `xlperf round intake`'s rate, 32 at 71%: benchmarks/bench_desk.py).
  const BATCH_FILES = 32;
  const BATCH_BYTES = 8 * 1024 * 1024;
  // Three requests in flight: while one request's files are being kept or recorded (no
  // checking then), another's are checked, so every core stays busy (two: 84% busy, 71% of
  // `xlperf round intake`'s rate; three: 94%, 75%).
  const PARALLEL = 3;

  function cell(row, text, link) {
    const td = document.createElement("td");
    td.className = "wrap-any";
    if (link) {
      const a = document.createElement("a");
      a.href = link;
      a.textContent = text;
      td.appendChild(a);
    } else {
      td.textContent = text;
    }
    row.appendChild(td);
    return td;
  }

  function pendingRow(file) {
    const row = document.createElement("tr");
    row.dataset.kind = "pending";
    cell(row, file.name);
    cell(row, "等待中");
    cell(row, "");
    cell(row, "");
    cell(row, "");
    body.appendChild(row);
    return row;
  }

  function fill(row, r) {
    row.replaceChildren();
    row.dataset.kind = r.kind;
    cell(row, r.name, r.url);
    cell(row, r.label);
    cell(row, r.unit);
    cell(row, r.status);
    cell(row, r.line);
  }

  function fail(row, text) {
    row.dataset.kind = "failed";
    row.children[1].textContent = "未上传";
    row.children[4].textContent = text;
  }

  function batches(files) {
    const out = [];
    let current = [];
    let size = 0;
    for (const f of files) {
      if (current.length && (current.length >= BATCH_FILES || size + f.size > BATCH_BYTES)) {
        out.push(current);
        current = [];
        size = 0;
      }
      current.push(f);
      size += f.size;
    }
    if (current.length) out.push(current);
    return out;
  }

  async function send(batch, rows) {
    const data = new FormData();
    batch.forEach((f) => data.append("files", f, f.name));
    let response;
    try {
      response = await fetch(form.action, {method: "POST", body: data, credentials: "same-origin",
        headers: {"X-CSRF-Token": token, "Accept": "application/json"}});
    } catch (e) {
      rows.forEach((r) => fail(r, "网络错误，未能上传：" + e));
      return;
    }
    const json = (response.headers.get("content-type") || "").startsWith("application/json");
    if (!response.ok && !json) {
      const text = await response.text();
      const msg = response.status === 413 ? "文件过大，超过上传上限" : "服务器拒绝（" + response.status + "）";
      rows.forEach((r) => fail(r, msg + (text.length < 300 ? "：" + text : "")));
      return;
    }
    const results = (await response.json()).results || [];
    // Each result names the file of the batch it belongs to (`given`): a zip gives its own row
    // and then one per member, placed after the zip's row.
    const last = rows.slice();
    const filled = new Set();
    for (const r of results) {
      const i = Math.min(Math.max(Number(r.given) || 0, 0), rows.length - 1);
      let row;
      if (!filled.has(i)) {
        row = rows[i];
        filled.add(i);
      } else {
        row = document.createElement("tr");
        last[i].after(row);
      }
      fill(row, r);
      last[i] = row;
    }
    // Never left at "审核中…": a file the server said nothing about is marked so.
    rows.forEach((row, i) => { if (!filled.has(i)) fail(row, "服务器未返回此文件的结果，请重新上传或联系管理员"); });
  }

  async function upload(files) {
    if (!files.length) return;
    const list = Array.from(files);
    const rows = new Map(list.map((f) => [f, pendingRow(f)]));
    bar.hidden = false;
    bar.max = list.length;
    bar.value = 0;
    let done = 0;
    const queue = batches(list);
    async function worker() {
      while (queue.length) {
        const batch = queue.shift();
        const tooBig = batch.filter((f) => f.size > maxBytes);
        tooBig.forEach((f) => fail(rows.get(f), "文件过大，超过 " + Math.round(maxBytes / 1048576) + " MB 上限，未上传"));
        const rest = batch.filter((f) => f.size <= maxBytes);
        rest.forEach((f) => { rows.get(f).children[1].textContent = "审核中…"; });
        if (rest.length) await send(rest, rest.map((f) => rows.get(f)));
        done += batch.length;
        bar.value = done;
        count.textContent = "已处理 " + done + " / " + list.length;
      }
    }
    await Promise.all(Array.from({length: PARALLEL}, worker));
    count.textContent = "全部完成：" + list.length + " 个文件";
    document.body.dataset.uploadDone = String(Number(document.body.dataset.uploadDone || 0) + 1);
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    upload(input.files).then(() => { input.value = ""; });
  });
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    upload(event.dataTransfer.files);
  });
})();
