// The pages' script: uploads with their progress bar, then a job's progress until done.
// Same-origin requests only (the pages' policy allows nothing else). The session's CSRF
// token, from <body data-csrf>, goes with every request that changes something.
(function () {
  "use strict";
  var csrf = document.body.getAttribute("data-csrf") || "";

  function problemText(xhr) {
    try {
      var problem = JSON.parse(xhr.responseText);
      return problem.detail || problem.title || "HTTP " + xhr.status;
    } catch (e) {
      return "HTTP " + xhr.status;
    }
  }

  function setUpUpload(form) {
    // Sent by XMLHttpRequest, whose upload events drive the bar; data-accepted is the
    // status of success, whose answer's id is appended to data-opens to go on.
    var bar = form.querySelector("progress");
    var message = form.querySelector("[role=status]");
    var button = form.querySelector("button[type=submit]");
    var accepted = parseInt(form.getAttribute("data-accepted"), 10);

    function failed(text) {
      message.textContent = text;
      message.className = "error";
      button.disabled = false;
      bar.hidden = true;
    }

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var xhr = new XMLHttpRequest();
      xhr.open("POST", form.getAttribute("action"));
      xhr.setRequestHeader("X-CSRF-Token", csrf);
      xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.addEventListener("progress", function (e) {
        if (e.lengthComputable) {
          bar.value = e.loaded / e.total;
        }
      });
      xhr.upload.addEventListener("load", function () {
        bar.value = 1;
        message.textContent = "Uploaded; checking it\u2026";
      });
      xhr.addEventListener("load", function () {
        if (xhr.status !== accepted) {
          failed(problemText(xhr));
          return;
        }
        var created = JSON.parse(xhr.responseText);
        message.textContent = "Accepted: opening it\u2026";
        window.location.assign(form.getAttribute("data-opens") + encodeURIComponent(created.id));
      });
      xhr.addEventListener("error", function () {
        failed("The upload failed: the service could not be reached.");
      });
      bar.hidden = false;
      bar.value = 0;
      button.disabled = true;
      message.className = "";
      message.textContent = "Uploading\u2026";
      xhr.send(new FormData(form));
    });
  }

  function setUpJob(section) {
    var url = section.getAttribute("data-status-url");
    var status = document.getElementById("job-status");
    var bar = document.getElementById("job-progress");
    var percent = document.getElementById("job-percent");

    function poll() {
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) {
            throw new Error("HTTP " + response.status);
          }
          return response.json();
        })
        .then(function (job) {
          status.textContent = job.status;
          bar.value = job.progress;
          percent.textContent = Math.round(job.progress * 100) + "%";
          if (job.status === "succeeded" || job.status === "failed") {
            window.location.reload();
          } else {
            window.setTimeout(poll, 500);
          }
        })
        .catch(function (error) {
          status.textContent = "unknown (" + error.message + "), asking again";
          window.setTimeout(poll, 2000);
        });
    }

    var now = section.getAttribute("data-status");
    if (now === "queued" || now === "running") {
      window.setTimeout(poll, 300);
    }
  }

  document.querySelectorAll("form#upload").forEach(setUpUpload);
  document.querySelectorAll("section#job[data-status-url]").forEach(setUpJob);
  // A share link is shown by its path; with the page's own address it can be copied whole.
  document.querySelectorAll("input.share-url").forEach(function (input) {
    input.value = new URL(input.value, window.location.href).href;
    input.addEventListener("focus", function () { input.select(); });
  });
})();
