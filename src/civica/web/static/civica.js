/* civica web UI behaviour: code editors, param rows, dialogs, file uploads with progress. */
(function () {
  "use strict";
  var csrf = function () {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  };

  // Code editors: <textarea data-editor="python|sql|r|javascript|shell">.
  function editors(root) {
    if (!window.CodeMirror) return;
    root.querySelectorAll("textarea[data-editor]").forEach(function (ta) {
      if (ta.dataset.ready) return;
      ta.dataset.ready = "1";
      var mode = { python: "python", sql: "text/x-sql", r: "r", javascript: "javascript",
                   shell: "shell" }[ta.dataset.editor] || null;
      var cm = CodeMirror.fromTextArea(ta, { mode: mode, lineNumbers: true, indentUnit: 4,
                                             matchBrackets: true, readOnly: ta.readOnly });
      ta.form && ta.form.addEventListener("submit", function () { cm.save(); });
      ta.civicaEditor = cm;
    });
  }

  // "Add a param" clones the template row of a params table.
  document.addEventListener("click", function (ev) {
    var add = ev.target.closest("[data-add-row]");
    if (add) {
      var table = document.getElementById(add.dataset.addRow);
      var tpl = table.querySelector("template");
      var body = table.querySelector("tbody");
      var index = body.querySelectorAll("tr").length;
      body.insertAdjacentHTML("beforeend", tpl.innerHTML.replace(/__i__/g, String(index)));
      ev.preventDefault();
    }
    var open = ev.target.closest("[data-open-dialog]");
    if (open) {
      var dlg = document.getElementById(open.dataset.openDialog);
      if (dlg && dlg.showModal) dlg.showModal();
    }
    var close = ev.target.closest("[data-close-dialog]");
    if (close) { close.closest("dialog").close(); ev.preventDefault(); }
  });

  // Uploads: ask the page for an upload form, then send the bytes straight to the store with
  // progress, the way the API's clients do (POST /files, then POST to uploadUrl).
  function upload(form) {
    var input = form.querySelector('input[type="file"]');
    var bar = form.querySelector("progress");
    var status = form.querySelector("[data-upload-status]");
    if (!input.files.length) { status.textContent = "Choose a file first."; return; }
    var file = input.files[0];
    status.textContent = "Starting upload...";
    fetch(form.action, {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf() },
      body: JSON.stringify({ name: file.name, project: form.dataset.project || null })
    }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.errorDescription || ("HTTP " + r.status));
        return body;
      });
    }).then(function (started) {
      var data = new FormData();
      Object.keys(started.uploadFields || {}).forEach(function (k) {
        data.append(k, started.uploadFields[k]);
      });
      data.append("file", file, file.name);
      var xhr = new XMLHttpRequest();
      xhr.open("POST", started.uploadUrl);
      xhr.upload.onprogress = function (e) {
        if (e.lengthComputable) { bar.max = e.total; bar.value = e.loaded; }
        status.textContent = "Uploading: " + Math.round(100 * e.loaded / (e.total || 1)) + "%";
      };
      xhr.onload = function () {
        if (xhr.status >= 200 && xhr.status < 300) {
          status.textContent = "Uploaded.";
          window.location = started.page;
        } else {
          status.textContent = "Upload failed (HTTP " + xhr.status + "): " + xhr.responseText;
        }
      };
      xhr.onerror = function () { status.textContent = "Upload failed: the connection broke."; };
      xhr.send(data);
    }).catch(function (err) { status.textContent = "Upload failed: " + err.message; });
  }
  document.addEventListener("submit", function (ev) {
    if (ev.target.matches("form[data-upload]")) { ev.preventDefault(); upload(ev.target); }
  });

  document.addEventListener("DOMContentLoaded", function () { editors(document); });
  document.addEventListener("htmx:afterSwap", function (ev) { editors(ev.target); });
})();
