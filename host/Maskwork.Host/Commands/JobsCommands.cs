using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Spectre.Console;
using Maskwork.Host.Cli;
using Maskwork.Host.Worker;
using Microsoft.Extensions.Configuration;

namespace Maskwork.Host.Commands;

/// <summary>What <c>jobs submit</c> is asked for: the <c>pretrain</c> options (its --out and --dist aside), plus a name, a priority and ranks.</summary>
public sealed record SubmitArgs(PretrainArgs Pretrain)
{
    public string? Name { get; init; }
    public int? Priority { get; init; }
    public int? Ranks { get; init; }
}

/// <summary><c>maskwork jobs submit|list|status|cancel|logs</c>: a client of the worker's REST API.</summary>
public sealed class JobsCommands(Workspace workspace, IConfiguration configuration)
{
    HttpClient Client(string? server)
    {
        var options = WorkerCommand.WorkerSettings(configuration);
        string url = (server ?? options.Url).TrimEnd('/');
        var client = new HttpClient { BaseAddress = new Uri(url + "/"), Timeout = Timeout.InfiniteTimeSpan };
        // The same token file the worker reads (a loopback worker ignores it).
        string tokenFile = options.TokenPath(workspace.Options.RunsRoot);
        if (File.Exists(tokenFile))
        {
            try { client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", File.ReadAllText(tokenFile).Trim()); }
            catch (UnauthorizedAccessException) { }
        }
        return client;
    }

    static long Id(long id) => id > 0 ? id : throw new UsageException("give the job's id (see `maskwork jobs list`)");

    async Task<JsonNode> SendAsync(string? server, HttpMethod method, string path, JsonNode? body, CancellationToken ct)
    {
        using var client = Client(server);
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json");
        HttpResponseMessage response;
        try { response = await client.SendAsync(request, ct); }
        catch (HttpRequestException e) { throw new CommandException($"no worker answers at {client.BaseAddress}: {e.Message}. Start one with `maskwork worker`, or name it with --server URL."); }
        using (response)
        {
            string text = await response.Content.ReadAsStringAsync(ct);
            JsonNode? json = null;
            try { json = text.Length > 0 ? JsonNode.Parse(text) : null; } catch (System.Text.Json.JsonException) { }
            if (response.IsSuccessStatusCode && json is not null) return json;
            string reason = json?["error"]?.GetValue<string>() ?? $"{(int)response.StatusCode} {response.ReasonPhrase}";
            throw new CommandException(response.StatusCode == HttpStatusCode.Unauthorized
                ? $"the worker refused the request (401): {reason}. The client reads the token from {WorkerCommand.WorkerSettings(configuration).TokenPath(workspace.Options.RunsRoot)} (Maskwork:Worker:TokenFile)."
                : $"the worker refused the request ({(int)response.StatusCode}): {reason}");
        }
    }

    /// <summary>The request body from the pretrain-style options: the job file (--config), then flags and --set.</summary>
    public static JsonObject Body(SubmitArgs submit)
    {
        var args = submit.Pretrain;
        JsonObject body = [];
        if (args.Config is { } path)
        {
            if (!File.Exists(path)) throw new CommandException($"job file {path} not found");
            try { body = JsonNode.Parse(File.ReadAllText(path)) as JsonObject ?? throw new CommandException($"job file {path} is not a JSON object"); }
            catch (System.Text.Json.JsonException e) { throw new CommandException($"job file {path} is not valid JSON: {e.Message}"); }
        }
        JsonObject Section(string key) => body[key] as JsonObject ?? (JsonObject)(body[key] = new JsonObject());
        if (args.Recipe is { } recipe) body["recipe"] = recipe;
        if (args.Data is { } data) body["data"] = Absolute(data);
        if (args.Device is { } device) body["device"] = device;
        if (args.Precision is { } precision) body["precision"] = precision;
        if (args.Seed is { } seed) body["seed"] = seed;
        if (args.Batch is { } batch) Section("train")["batch"] = batch;
        if (args.Steps is { } steps) body["steps"] = steps;
        if (submit.Name is { } name) body["name"] = name;
        if (submit.Priority is { } priority) body["priority"] = priority;
        if (submit.Ranks is { } ranks) body["ranks"] = ranks;
        foreach (var assignment in args.Sets)
        {
            int eq = assignment.IndexOf('=');
            if (eq <= 0) throw new UsageException($"--set expects key=value, got '{assignment}'");
            string key = assignment[..eq].Trim(), raw = assignment[(eq + 1)..];
            JsonNode value;
            try { value = JsonNode.Parse(raw) ?? JsonValue.Create(raw); } catch (System.Text.Json.JsonException) { value = JsonValue.Create(raw); }
            if (key.StartsWith("train.", StringComparison.Ordinal)) Section("train")[key[6..]] = value;
            else if (key.StartsWith("model.", StringComparison.Ordinal)) Section("model")[key[6..]] = value;
            else if (key.StartsWith("data.", StringComparison.Ordinal)) Section("data_options")[key[5..]] = raw;
            else if (key is "seed" or "device" or "precision") body[key] = value;
            else throw new UsageException($"--set {key}: keys are train.<name>, model.<name>, data.<name>, seed, device or precision");
        }
        return body;
    }

    // The worker runs elsewhere: a relative data path means the caller's folder.
    static string Absolute(string data)
    {
        int colon = data.IndexOf(':');
        if (colon < 0) return data;
        string path = data[(colon + 1)..];
        return path.Length > 0 && !Path.IsPathRooted(path) ? $"{data[..colon]}:{Path.GetFullPath(path)}" : data;
    }

    public async Task<int> SubmitAsync(SubmitArgs args, string? server, Output output, CancellationToken ct)
    {
        var job = await SendAsync(server, HttpMethod.Post, "jobs", Body(args), ct);
        output.Result(new JsonObject { ["id"] = job["id"]!.DeepClone(), ["state"] = job["state"]!.DeepClone(), ["run"] = job["run"]!.DeepClone(), ["steps"] = job["steps"]!.DeepClone() },
            () => $"job {job["id"]} {job["state"]}: {job["recipe"]} for {job["steps"]} steps, run folder {job["run"]}. Watch it with `maskwork jobs logs {job["id"]} --follow`.");
        return 0;
    }

    public async Task<int> ListAsync(string? state, string? server, Output output, CancellationToken ct)
    {
        var jobs = (await SendAsync(server, HttpMethod.Get, state is null ? "jobs" : $"jobs?state={Uri.EscapeDataString(state)}", null, ct)).AsArray();
        if (output.Json) { output.Result(jobs); return 0; }
        if (jobs.Count == 0) { output.Line("no jobs. Submit one with `maskwork jobs submit --recipe R`."); return 0; }
        var table = Output.Table("id", "name", "recipe", "state", "step", "loss", "attempts", "reason");
        foreach (var j in jobs)
            table.AddRow(Output.Cell(j!["id"]!.ToString()), Output.Cell(j["name"]?.ToString()), Output.Cell(j["recipe"]?.ToString()),
                Output.Cell(j["state"]!.ToString(), StateStyle(j["state"]!.ToString())), Output.Cell($"{j["step"]}/{j["steps"]}"),
                Output.Cell(j["loss"] is { } l ? Output.Round(l.GetValue<double>()) : ""), Output.Cell($"{j["attempts"]}/{j["max_attempts"]}"), Output.Cell(j["reason"]?.ToString()));
        output.Show(table);
        return 0;
    }

    static string StateStyle(string state) => state switch { "succeeded" => "green", "failed" => "red", "running" => "blue", "cancelled" => "yellow", _ => "grey" };

    public async Task<int> StatusAsync(long id, string? server, Output output, CancellationToken ct)
    {
        id = Id(id);
        var job = await SendAsync(server, HttpMethod.Get, $"jobs/{id}", null, ct);
        output.Result(job, () =>
        {
            var s = new StringBuilder($"job {job["id"]} ({job["name"]}, {job["recipe"]}): {job["state"]}, step {job["step"]}/{job["steps"]}, attempts {job["attempts"]}/{job["max_attempts"]}");
            if (job["loss"] is { } loss) s.Append($", loss {Output.Round(loss.GetValue<double>())}");
            if (job["reason"] is { } reason) s.Append($"\nreason: {reason}");
            if (job["exit_code"] is { } code) s.Append($"\nexit code: {code}");
            s.Append($"\nrun: {job["run"]}");
            if (job["result"] is JsonObject r) s.Append($"\nresult: final loss {r["final_loss"]}, {r["samples_per_s"]} samples/s");
            return s.ToString();
        });
        return 0;
    }

    public async Task<int> CancelAsync(long id, string? server, Output output, CancellationToken ct)
    {
        id = Id(id);
        var job = await SendAsync(server, HttpMethod.Post, $"jobs/{id}/cancel", null, ct);
        output.Result(new JsonObject { ["id"] = id, ["state"] = job["state"]!.DeepClone(), ["cancel_requested"] = true },
            () => job["state"]!.ToString() == "cancelled" ? $"job {id} cancelled" : $"job {id}: cancelling (it writes a checkpoint, then stops)");
        return 0;
    }

    public async Task<int> LogsAsync(long id, bool follow, string stream, string? server, Output output, CancellationToken ct)
    {
        id = Id(id);
        long offset = 0;
        var text = new StringBuilder();
        while (true)
        {
            var chunk = await SendAsync(server, HttpMethod.Get, $"jobs/{id}/logs?offset={offset}&stream={stream}", null, ct);
            string part = chunk["text"]!.GetValue<string>();
            offset = chunk["next_offset"]!.GetValue<long>();
            if (output.Json) text.Append(part); else Console.Out.Write(part);
            bool done = chunk["done"]!.GetValue<bool>();
            if (part.Length > 0) continue;
            if (!follow || done) { output.Result(new JsonObject { ["id"] = id, ["state"] = chunk["state"]!.DeepClone(), ["offset"] = offset, ["text"] = text.ToString() }); return 0; }
            await Task.Delay(500, ct);
        }
    }
}
