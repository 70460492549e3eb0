/* The chat workspace: ask, stream the answer (server-sent events over fetch), stop,
   regenerate, edit and resend, copy. While an answer streams its text is shown as
   plain text (textContent: never parsed as HTML); at the end it is replaced by the
   server's sanitised rendering. */
(function () {
  "use strict";

  var main = document.getElementById("chat-main");
  if (!main) return;
  var list = document.getElementById("messages");
  var scroller = document.getElementById("chat-scroll");
  var composer = document.getElementById("composer");
  var input = document.getElementById("question");
  var stopButton = composer ? composer.querySelector(".composer-stop") : null;
  var sendButton = composer ? composer.querySelector(".composer-send") : null;
  var template = document.getElementById("tpl-answer");
  var tokenMeta = document.querySelector('meta[name="csrf-token"]');
  var csrf = tokenMeta ? tokenMeta.content : "";
  var current = null; // the answer being streamed: {li, messageId, controller}
  var panel = document.querySelector(".chat-list-panel");
  // On a phone the list of chats starts folded, so the conversation gets the screen.
  if (panel && window.matchMedia("(max-width: 800px)").matches && main.dataset.chatId) panel.open = false;

  function chatApi() { return main.dataset.chatApi; }

  function request(method, url, body, accept) {
    return fetch(url, {
      method: method,
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "Accept": accept || "application/json", "X-CSRFToken": csrf },
      body: body === undefined ? undefined : JSON.stringify(body)
    });
  }

  function scrollDown() { if (scroller) scroller.scrollTop = scroller.scrollHeight; }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function ensureChat() {
    if (main.dataset.chatId) return Promise.resolve();
    return request("POST", main.dataset.chatsApi, {}).then(function (response) {
      if (!response.ok) throw new Error("The chat could not be created (HTTP " + response.status + ").");
      return response.json();
    }).then(function (data) {
      main.dataset.chatId = data.chat.id;
      main.dataset.chatApi = main.dataset.chatsApi + data.chat.id;
      var url = main.dataset.chatPage + data.chat.id;
      history.replaceState(null, "", url);
      var sidebar = document.getElementById("chat-list");
      if (sidebar) {
        var empty = sidebar.querySelector(".chat-list-empty");
        if (empty) empty.remove();
        var li = el("li");
        var link = el("a", "chat-link truncate", "New chat");
        link.href = url;
        link.setAttribute("aria-current", "page");
        link.dataset.chatId = data.chat.id;
        li.appendChild(link);
        sidebar.insertBefore(li, sidebar.firstChild);
      }
    });
  }

  function addQuestion(text) {
    var empty = document.getElementById("chat-empty");
    if (empty) empty.remove();
    var li = el("li", "msg msg-user");
    li.dataset.role = "user";
    var bubble = el("div", "msg-bubble");
    var p = el("p", "msg-text", text);
    p.dataset.testid = "question-text";
    bubble.appendChild(p);
    li.appendChild(bubble);
    list.appendChild(li);
    return li;
  }

  function addAnswer() {
    var li = template.content.firstElementChild.cloneNode(true);
    list.appendChild(li);
    scrollDown();
    return li;
  }

  function setBusy(busy) {
    if (!composer) return;
    stopButton.hidden = !busy;
    sendButton.disabled = busy;
    main.classList.toggle("is-streaming", busy);
  }

  function renderSources(li, sources, messageId) {
    var extra = li.querySelector(".msg-extra");
    extra.textContent = "";
    if (!sources || !sources.length) return;
    var details = el("details", "sources");
    details.open = true;
    details.appendChild(el("summary", "", sources.length + (sources.length === 1 ? " source" : " sources")));
    var ol = el("ol", "source-list");
    ol.dataset.testid = "sources";
    sources.forEach(function (source) {
      var item = el("li", "source");
      item.id = "src-" + messageId + "-" + source.n;
      item.appendChild(el("span", "source-n", String(source.n)));
      var body = el("div", "source-body");
      var title = el("p", "source-title truncate");
      title.title = source.file_name + (source.heading ? " › " + source.heading : "");
      var name = el(source.url ? "a" : "span", "", source.file_name + (source.page_label || ""));
      if (source.url) name.href = source.url;
      name.dataset.testid = "source-link";
      title.appendChild(name);
      if (source.heading) title.appendChild(el("span", "source-heading", " › " + source.heading));
      body.appendChild(title);
      var snippet = el("p", "source-snippet");
      snippet.innerHTML = source.snippet; // escaped by the server, <mark> only
      body.appendChild(snippet);
      item.appendChild(body);
      ol.appendChild(item);
    });
    details.appendChild(ol);
    extra.appendChild(details);
  }

  function finish(li, data, failed) {
    var body = li.querySelector(".msg-markdown");
    body.classList.remove("msg-streaming");
    if (data.html !== undefined) body.innerHTML = data.html; // sanitised on the server (nh3)
    li.className = "msg msg-answer status-" + (data.status || (failed ? "failed" : "complete"));
    if (data.message_id) { li.dataset.messageId = data.message_id; li.id = "m-" + data.message_id; }
    li.querySelector(".msg-waiting").hidden = true;
    var extra = li.querySelector(".msg-extra");
    renderSources(li, li._sources, data.message_id);
    var summary = li.querySelector(".sources summary");
    if (data.cites_nothing && summary) {
      var uncited = el("span", "badge badge-warning", "cites no source");
      uncited.dataset.testid = "cites-nothing";
      uncited.title = "The answer cites none of these sources: nothing in it is tied to them. Check it against the sources.";
      summary.appendChild(document.createTextNode(" "));
      summary.appendChild(uncited);
    }
    if (data.no_matching_knowledge) {
      var flag = el("p", "msg-flag");
      flag.dataset.testid = "no-knowledge";
      flag.appendChild(el("span", "badge", "no matching knowledge"));
      extra.appendChild(flag);
    }
    if (data.status === "stopped") {
      var stopped = el("p", "msg-flag");
      stopped.dataset.testid = "answer-stopped";
      stopped.appendChild(el("span", "badge badge-warning", "stopped"));
      stopped.appendChild(document.createTextNode(" The answer was stopped; the text above is what was written until then."));
      extra.appendChild(stopped);
    }
    if (failed || data.error) {
      var box = el("div", "callout callout-danger msg-error");
      box.setAttribute("role", "alert");
      box.dataset.testid = "answer-error";
      var inner = el("div", "callout-body");
      inner.appendChild(el("p", "", (body.textContent ? "Incomplete answer. " : "") + (data.error || "The answer failed.")));
      box.appendChild(inner);
      extra.appendChild(box);
    }
    if (data.usage && data.price !== undefined && !data.no_matching_knowledge) {
      li.querySelector(".msg-meta").textContent = data.usage.prompt + " + " + data.usage.completion + " tokens" +
        (data.usage.estimated ? " (estimated)" : "") + " · " + (data.price_display || data.price) + " " + data.currency +
        (data.latency_ms != null ? " · " + (data.latency_ms / 1000).toFixed(1) + " s" : "");
    }
    scrollDown();
  }

  function parseEvents(buffer, onEvent) {
    var parts = buffer.split("\n\n");
    var rest = parts.pop();
    parts.forEach(function (block) {
      var name = "message", data = "";
      block.split("\n").forEach(function (line) {
        if (line.indexOf("event: ") === 0) name = line.slice(7);
        else if (line.indexOf("data: ") === 0) data += line.slice(6);
      });
      if (data) onEvent(name, JSON.parse(data));
    });
    return rest;
  }

  function stream(url, body, li) {
    setBusy(true);
    current = { li: li, messageId: null };
    var text = "";
    var ended = false;
    var bodyNode = li.querySelector(".msg-markdown");
    return request("POST", url, body, "text/event-stream").then(function (response) {
      var type = response.headers.get("Content-Type") || "";
      if (!response.ok || type.indexOf("text/event-stream") !== 0) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          ended = true;
          bodyNode.textContent = "";
          finish(li, { error: data.message || ("The request failed (HTTP " + response.status + ")."), status: "failed" }, true);
        });
      }
      var reader = response.body.getReader();
      var decoder = new TextDecoder();
      var buffer = "";
      function pump() {
        return reader.read().then(function (chunk) {
          if (chunk.done) return;
          buffer = parseEvents(buffer + decoder.decode(chunk.value, { stream: true }), function (name, data) {
            if (name === "start") {
              current.messageId = data.message_id;
              li.dataset.messageId = data.message_id;
              if (data.question_id && li.previousElementSibling && !li.previousElementSibling.dataset.messageId) {
                li.previousElementSibling.dataset.messageId = data.question_id;
                li.previousElementSibling.id = "m-" + data.question_id;
              }
            } else if (name === "waiting") {
              li.querySelector(".msg-waiting").hidden = false;
            } else if (name === "sources") {
              li._sources = data.sources;
            } else if (name === "delta") {
              li.querySelector(".msg-waiting").hidden = true;
              text += data.text;
              bodyNode.textContent = text; // plain text while streaming
              scrollDown();
            } else if (name === "end" || name === "error") {
              ended = true;
              if (name === "error" && data.refused) bodyNode.textContent = "";
              finish(li, data, name === "error");
            }
          });
          return pump();
        });
      }
      return pump();
    }).catch(function () {
      if (!ended) finish(li, { error: "The connection to the server was lost. Reload the page to see what was saved." }, true);
    }).then(function () {
      current = null;
      setBusy(false);
      var title = document.querySelector('#chat-list [aria-current="page"]');
      var first = list.querySelector(".msg-user .msg-text");
      if (title && title.textContent === "New chat" && first) {
        title.textContent = first.textContent.slice(0, 80);
        title.title = title.textContent;
        var heading = main.querySelector(".chat-title");
        if (heading) { heading.textContent = title.textContent; heading.title = title.textContent; }
      }
    });
  }

  function ask(text) {
    return ensureChat().then(function () {
      addQuestion(text);
      return stream(chatApi() + "/messages/", { text: text }, addAnswer());
    }).catch(function (error) {
      var li = addAnswer();
      li.querySelector(".msg-markdown").textContent = "";
      finish(li, { error: error.message }, true);
    });
  }

  if (composer) {
    composer.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = input.value.trim();
      if (!text || current) return;
      input.value = "";
      input.style.height = "";
      ask(text);
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        composer.requestSubmit();
      }
    });
    input.addEventListener("input", function () {
      input.style.height = "";
      input.style.height = Math.min(input.scrollHeight, 200) + "px";
    });
    stopButton.addEventListener("click", function () {
      if (!current || !current.messageId) return;
      stopButton.disabled = true;
      request("POST", chatApi() + "/messages/" + current.messageId + "/stop", {}).finally(function () {
        stopButton.disabled = false;
      });
    });
  }

  function lastAnswer() {
    var answers = list.querySelectorAll(".msg-answer");
    return answers.length ? answers[answers.length - 1] : null;
  }

  list.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action]");
    if (!button) return;
    var li = button.closest(".msg");
    var action = button.dataset.action;
    if (action === "copy") {
      var source = li.querySelector(".msg-markdown") || li.querySelector(".msg-text");
      if (navigator.clipboard) navigator.clipboard.writeText(source.innerText);
      button.classList.add("is-done");
      setTimeout(function () { button.classList.remove("is-done"); }, 1200);
    } else if (action === "regenerate" && !current) {
      if (li !== lastAnswer()) return;
      li.remove();
      stream(chatApi() + "/regenerate", {}, addAnswer());
    } else if (action === "edit" && !current) {
      startEdit(li);
    }
  });

  function startEdit(li) {
    if (li.querySelector(".msg-edit")) return;
    var textNode = li.querySelector(".msg-text");
    var form = el("form", "msg-edit");
    var area = el("textarea", "input");
    area.value = textNode.textContent;
    area.rows = 3;
    area.setAttribute("aria-label", "Edit the question");
    area.dataset.testid = "edit-text";
    var actions = el("div", "msg-edit-actions");
    var save = el("button", "button primary sm", "Save and resend");
    save.type = "submit";
    save.dataset.testid = "resend";
    var cancel = el("button", "button ghost sm", "Cancel");
    cancel.type = "button";
    actions.appendChild(save);
    actions.appendChild(cancel);
    form.appendChild(area);
    form.appendChild(actions);
    li.appendChild(form);
    area.focus();
    cancel.addEventListener("click", function () { form.remove(); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var text = area.value.trim();
      if (!text || !li.dataset.messageId) return;
      form.remove();
      textNode.textContent = text;
      while (li.nextElementSibling) li.nextElementSibling.remove();
      stream(chatApi() + "/messages/" + li.dataset.messageId + "/resend", { text: text }, addAnswer());
    });
  }

  document.querySelectorAll("form[data-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  });

  scrollDown();
})();
