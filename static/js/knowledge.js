/* Knowledge pages: upload with a real progress bar (XHR upload events), drag and drop,
   and each file's status kept live by polling a small JSON endpoint until it settles.
   Without this script the upload form posts normally and the page shows statuses as
   they were when it was loaded. Text from the server is set with textContent only. */
(function () {
  "use strict";

  var POLL_MS = 1000;
  var STATUS = {
    ready: ["badge badge-success", function () { return "Ready"; }],
    indexing: ["badge badge-accent", function (item) { return "Indexing " + item.progress + "%"; }],
    queued: ["badge", function () { return "Queued"; }],
    empty: ["badge badge-warning", function () { return "No extractable text"; }],
    failed: ["badge badge-danger", function () { return "Failed"; }]
  };

  var VECTORS = {
    ready: ["badge badge-success", function () { return "Vectors ready"; }],
    embedding: ["badge badge-accent", function (v) { return "Vectors " + v.progress + "%"; }],
    queued: ["badge", function () { return "Vectors queued"; }],
    failed: ["badge badge-warning", function () { return "Vectors failed"; }]
  };

  var KINDS = {
    "application/pdf": "PDF", "text/html": "HTML", "text/markdown": "MD", "text/csv": "CSV", "text/plain": "TXT",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "DOCX"
  };

  function csrfToken() {
    var meta = document.querySelector('meta[name="csrf-token"]');
    return meta ? meta.getAttribute("content") : "";
  }

  function badge(item) {
    var spec = STATUS[item.status] || STATUS.failed;
    var span = document.createElement("span");
    span.className = spec[0];
    span.setAttribute("data-status", item.status);
    span.textContent = spec[1](item);
    return span;
  }

  /* The second stage's badge (nothing when the store searches by full text only). */
  function vectorsBadge(item) {
    var vectors = item.vectors || {};
    var spec = VECTORS[vectors.status];
    if (!spec) return document.createTextNode("");
    var span = document.createElement("span");
    span.className = spec[0];
    span.setAttribute("data-vectors", vectors.status);
    span.textContent = spec[1](vectors);
    if (vectors.reason) span.title = vectors.reason;
    return span;
  }

  function sizeText(bytes) {
    var units = ["bytes", "KiB", "MiB", "GiB"], i = 0;
    while (bytes >= 1024 && i < units.length - 1) { bytes /= 1024; i++; }
    return (i ? bytes.toFixed(1) : bytes) + " " + units[i];
  }

  /* --- live statuses ------------------------------------------------------------------ */

  function Poller(url, onItem, onIdle) {
    this.url = url; this.onItem = onItem; this.onIdle = onIdle; this.ids = {}; this.timer = null;
  }
  Poller.prototype.watch = function (id) { this.ids[id] = true; this.schedule(); };
  Poller.prototype.schedule = function () {
    if (this.timer || !Object.keys(this.ids).length) return;
    var self = this;
    this.timer = window.setTimeout(function () { self.timer = null; self.poll(); }, POLL_MS);
  };
  Poller.prototype.poll = function () {
    var self = this, ids = Object.keys(this.ids);
    if (!ids.length) return;
    var request = new XMLHttpRequest();
    request.open("GET", this.url + "?ids=" + encodeURIComponent(ids.join(",")));
    request.setRequestHeader("Accept", "application/json");
    request.onload = function () {
      if (request.status === 200) {
        var seen = {};
        JSON.parse(request.responseText).items.forEach(function (item) {
          seen[item.id] = true;
          self.onItem(item);
          if (item.is_settled && item.vectors_settled !== false) delete self.ids[item.id];
        });
        ids.forEach(function (id) { if (!seen[id]) delete self.ids[id]; });  // deleted meanwhile
      }
      if (Object.keys(self.ids).length) self.schedule(); else if (self.onIdle) self.onIdle();
    };
    request.onerror = function () { self.schedule(); };
    request.send();
  };

  function updateRow(row, item) {
    var cell = row.querySelector("[data-status-cell]");
    cell.replaceChildren(badge(item));
    row.setAttribute("data-settled", item.is_settled ? "true" : "false");
    row.setAttribute("data-vectors-settled", item.vectors_settled === false ? "false" : "true");
    var chunks = row.querySelector("[data-chunks]");
    if (item.status === "ready") {
      if (!chunks) {
        chunks = document.createElement("span");
        chunks.className = "muted small";
        chunks.setAttribute("data-chunks", "");
        cell.after(" ", chunks);
      }
      chunks.textContent = item.chunk_count + (item.chunk_count === 1 ? " chunk" : " chunks");
    }
    if (item.reason && (item.status === "failed" || item.status === "empty")) {
      var reason = row.querySelector("[data-reason]");
      if (!reason) {
        reason = document.createElement("span");
        reason.className = "cell-sub file-reason";
        reason.setAttribute("data-reason", "");
        row.querySelector("td").appendChild(reason);
      }
      reason.textContent = item.reason;
    }
    var vectorsCell = row.querySelector("[data-vectors-cell]");
    if (vectorsCell) vectorsCell.replaceChildren(vectorsBadge(item));
    var vectors = item.vectors || {};
    var vectorReason = row.querySelector("[data-vector-reason]");
    if (vectors.reason && (vectors.status === "queued" || vectors.status === "failed")) {
      if (!vectorReason) {
        vectorReason = document.createElement("span");
        vectorReason.className = "cell-sub file-reason";
        vectorReason.setAttribute("data-vector-reason", "");
        row.querySelector("td").appendChild(vectorReason);
      }
      vectorReason.textContent = vectors.reason;
    } else if (vectorReason) {
      vectorReason.remove();
    }
    var reindex = row.querySelector("[data-reindex]");
    if (reindex) reindex.disabled = !item.is_settled;
  }

  /* --- the list page ------------------------------------------------------------------- */

  function initUpload(card) {
    var dropzone = card.querySelector("[data-dropzone]");
    var input = card.querySelector('input[type="file"]');
    var progress = card.querySelector("[data-upload-progress]");
    var bar = card.querySelector("[data-upload-bar]");
    var meter = card.querySelector('[role="progressbar"]');
    var percent = card.querySelector("[data-upload-percent]");
    var label = card.querySelector("[data-upload-label]");
    var messages = card.querySelector("[data-upload-messages]");
    var table = document.querySelector("[data-files]");
    var maxBytes = parseInt(card.getAttribute("data-max-bytes"), 10);
    var maxFiles = parseInt(card.getAttribute("data-max-files"), 10);
    var busy = false;

    var poller = new Poller(card.getAttribute("data-status-url"), function (item) {
      var row = document.querySelector('tr[data-file-id="' + item.id + '"]');
      if (row) updateRow(row, item);
    });
    document.querySelectorAll('tr[data-file-id][data-settled="false"], tr[data-file-id][data-vectors-settled="false"]').forEach(function (row) {
      poller.watch(row.getAttribute("data-file-id"));
    });

    function say(text, kind) {
      var li = document.createElement("li");
      li.className = "upload-message" + (kind ? " is-" + kind : "");
      li.textContent = text;
      messages.appendChild(li);
    }

    function setProgress(fraction, text) {
      var value = Math.round(fraction * 100);
      bar.style.width = value + "%";
      meter.setAttribute("aria-valuenow", String(value));
      percent.textContent = value + "%";
      if (text) label.textContent = text;
    }

    function addRow(item) {
      var wrap = document.querySelector("[data-files-wrap]"), empty = document.querySelector("[data-files-empty]");
      if (wrap) wrap.hidden = false;
      if (empty) empty.remove();
      var existing = table.querySelector('tr[data-file-id="' + item.id + '"]');
      if (existing) { updateRow(existing, item); return; }
      var row = document.createElement("tr");
      row.className = "is-new";
      row.setAttribute("data-file-id", item.id);
      var name = document.createElement("td");
      name.className = "cell-truncate";
      var title = document.createElement("span");
      title.className = "cell-title";
      var link = document.createElement("a");
      link.className = "row-link truncate";
      link.href = item.page_url;
      link.title = item.name;
      link.textContent = item.name;
      var kind = document.createElement("span");
      kind.className = "file-kind";
      kind.textContent = KINDS[item.content_type] || "File";
      title.append(kind, link);
      name.appendChild(title);
      var status = document.createElement("td");
      status.className = "nowrap";
      status.setAttribute("data-label", "Status");
      var cell = document.createElement("span");
      cell.setAttribute("data-status-cell", "");
      var vectorsCell = document.createElement("span");
      vectorsCell.setAttribute("data-vectors-cell", "");
      status.append(cell, " ", vectorsCell);
      var size = document.createElement("td");
      size.className = "num nowrap col-optional";
      size.textContent = sizeText(item.size);
      var added = document.createElement("td");
      added.className = "nowrap muted col-optional";
      added.textContent = "just now";
      var actions = document.createElement("td");
      actions.className = "cell-actions";
      var download = document.createElement("a");
      download.className = "button sm ghost";
      download.href = item.download_url;
      download.textContent = "Download";
      actions.appendChild(download);
      row.append(name, status, size, added, actions);
      table.querySelector("tbody").prepend(row);
      updateRow(row, item);
    }

    function upload(files) {
      if (busy || !files.length) return;
      messages.replaceChildren();
      var form = new FormData();
      var count = 0;
      Array.prototype.forEach.call(files, function (file) {
        if (file.size > maxBytes) {
          say(file.name + ": " + sizeText(file.size) + " is more than the " + sizeText(maxBytes) + " allowed per file.", "error");
        } else if (count >= maxFiles) {
          say(file.name + ": not sent (at most " + maxFiles + " files at a time).", "error");
        } else {
          form.append("file", file, file.name);
          count++;
        }
      });
      if (!count) return;
      busy = true;
      progress.hidden = false;
      setProgress(0, "Uploading " + count + (count === 1 ? " file…" : " files…"));
      var request = new XMLHttpRequest();
      request.open("POST", card.getAttribute("data-upload-url"));
      request.setRequestHeader("Accept", "application/json");
      request.setRequestHeader("X-CSRFToken", csrfToken());
      request.upload.onprogress = function (event) {
        if (event.lengthComputable) setProgress(event.loaded / event.total);
      };
      request.onload = function () {
        busy = false;
        input.value = "";
        var body = null;
        try { body = JSON.parse(request.responseText); } catch (error) { body = null; }
        if (!body) {
          setProgress(1, "Upload failed");
          say("The upload failed (HTTP " + request.status + "). Try again.", "error");
          return;
        }
        setProgress(1, request.status < 300 ? "Uploaded" : "Not uploaded");
        (body.items || []).forEach(function (item) {
          say(item.duplicate ? item.name + " is in this store already." : item.name + " uploaded; indexing…",
              item.duplicate ? "" : "success");
          addRow(item);
          if (item.status === "queued" || item.status === "indexing") poller.watch(item.id);
        });
        (body.refused || []).forEach(function (refusal) { say(refusal.name + ": " + refusal.message, "error"); });
        if (!body.items && !body.refused && body.message) say(body.message, "error");
      };
      request.onerror = function () {
        busy = false;
        setProgress(0, "Upload failed");
        say("The connection was lost during the upload. Try again.", "error");
      };
      request.send(form);
    }

    input.addEventListener("change", function () { upload(input.files); });
    ["dragenter", "dragover"].forEach(function (name) {
      dropzone.addEventListener(name, function (event) {
        event.preventDefault();
        dropzone.classList.add("is-over");
      });
    });
    ["dragleave", "drop"].forEach(function (name) {
      dropzone.addEventListener(name, function (event) {
        event.preventDefault();
        if (name === "dragleave" && dropzone.contains(event.relatedTarget)) return;
        dropzone.classList.remove("is-over");
      });
    });
    dropzone.addEventListener("drop", function (event) {
      if (event.dataTransfer && event.dataTransfer.files) upload(event.dataTransfer.files);
    });
  }

  /* --- the file page: reload once the file settles, to show its chunks ---------------------- */

  function initFilePage(box) {
    if (box.getAttribute("data-settled") === "true" && box.getAttribute("data-vectors-settled") === "true") return;
    var poller = new Poller(box.getAttribute("data-status-url"), function (item) {
      box.querySelector("[data-status-cell]").replaceChildren(badge(item));
      var vectorsCell = box.querySelector("[data-vectors-cell]");
      if (vectorsCell) vectorsCell.replaceChildren(vectorsBadge(item));
      if (item.is_settled && item.vectors_settled !== false) window.location.reload();
    });
    poller.watch(box.getAttribute("data-file-id"));
  }

  function init() {
    var card = document.querySelector("[data-upload]");
    if (card) initUpload(card);
    var box = document.querySelector("[data-file-page]");
    if (box) initFilePage(box);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
