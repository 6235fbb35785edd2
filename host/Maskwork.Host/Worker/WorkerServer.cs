using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Maskwork.Backend.Devices;
using Maskwork.Backend.Training;
using Maskwork.Host.Plugins;
using Maskwork.Host.Runs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Maskwork.Host.Worker;

/// <summary>
/// <c>maskwork worker</c>: the queue (<see cref="JobStore"/>), the runner (<see cref="JobRunner"/>), the REST API,
/// /metrics, health checks and the dashboard, on Kestrel in the generic host, with systemd notify when systemd started it.
/// </summary>
public static class WorkerServer
{
    static readonly JsonSerializerOptions Snake = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    static readonly string[] Files = ["loss.png", "reconstructions.png"];

    public static WebApplication Build(string[] urls, string runsRoot, WorkerOptions options, PluginCatalog catalog)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = AppContext.BaseDirectory, Args = [] });
        builder.Configuration.AddEnvironmentVariables("MASKWORK_");
        builder.WebHost.UseUrls(urls);
        builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = Math.Max(options.MaxBodyBytes * 4L, 1 << 20));
        builder.Host.UseSystemd(); // READY=1 once started, STOPPING=1 on stop; only under systemd (the parent is systemd and NOTIFY_SOCKET is set)
        builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(options.GraceSeconds + 15));
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        builder.Logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);

        Directory.CreateDirectory(runsRoot);
        var store = new JobStore(options.DatabasePath(runsRoot));
        var roots = options.Roots(runsRoot);
        bool loopbackOnly = urls.All(IsLoopback);
        string? token = loopbackOnly ? null : Token(options.TokenPath(runsRoot));

        builder.Services.AddSingleton(store);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton<JobRunner>();
        builder.Services.AddHostedService(s => s.GetRequiredService<JobRunner>());
        builder.Services.AddHealthChecks()
            .AddCheck("database", () => Try(() => { store.Touch(); return "writable"; }), tags: ["ready"])
            .AddCheck("disk", () =>
            {
                long freeMb = new DriveInfo(Path.GetFullPath(runsRoot)).AvailableFreeSpace >> 20;
                return freeMb >= options.MinFreeDiskMb ? HealthCheckResult.Healthy($"{freeMb} MB free") : HealthCheckResult.Unhealthy($"{freeMb} MB free, below {options.MinFreeDiskMb}");
            }, tags: ["ready"])
            .AddCheck("native", () => Native.Value, tags: ["ready"]);

        var app = builder.Build();
        var runner = app.Services.GetRequiredService<JobRunner>();
        var log = app.Services.GetRequiredService<ILogger<JobRunner>>();
        app.Lifetime.ApplicationStarted.Register(() => log.LogInformation("worker listening on {Urls}; runs under {Root}; queue {Db}{Token}",
            string.Join(", ", urls), Path.GetFullPath(runsRoot), store.Path, token is null ? " (loopback: no token needed)" : $"; bearer token in {options.TokenPath(runsRoot)}"));

        if (token is not null)
            app.Use(async (ctx, next) =>
            {
                if (ctx.Request.Path == "/healthz" || Authorized(ctx, token)) { await next(); return; }
                ctx.Response.StatusCode = 401;
                ctx.Response.Headers.WWWAuthenticate = "Bearer";
                await ctx.Response.WriteAsJsonAsync(new { error = "a bearer token is required: Authorization: Bearer <the token in the worker's token file>" });
            });

        app.MapGet("/", () => Results.Text(Dashboard("index.html"), "text/html; charset=utf-8"));
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = c => c.Tags.Contains("ready"), ResponseWriter = WriteHealth });
        app.MapGet("/metrics", () => Results.Text(Prometheus(store), "text/plain; version=0.0.4; charset=utf-8"));
        app.MapGet("/recipes", () => Results.Json(catalog.Registry.Recipes.Select(r => new { name = r.Recipe.Name, data = r.Recipe.DefaultData })));

        app.MapPost("/jobs", async (HttpContext ctx) =>
        {
            var body = await ReadBounded(ctx.Request, options.MaxBodyBytes);
            if (body is null) return Error(400, $"the body is larger than {options.MaxBodyBytes} bytes");
            JobRequest request;
            try { request = JobRequest.Validate(body, catalog, roots, options.MaxRanks); }
            catch (BadRequestException e) { return Error(400, e.Message); }
            var job = store.Add(request.Name, request.Recipe, request.JobFile, request.Steps, request.Priority, options.MaxAttempts,
                id => Path.Combine(Path.GetFullPath(runsRoot), "jobs", $"{id:D5}-{request.Name}"), request.Ranks);
            runner.Poke();
            return Results.Json(RunView.Json(job), statusCode: 201);
        });
        app.MapGet("/jobs", (string? state) =>
            state is not null && !JobStates.All.Contains(state) ? Error(400, $"state must be one of {string.Join(", ", JobStates.All)}")
                : Results.Json(new JsonArray([.. store.List(state).Select(j => RunView.Json(j))])));
        app.MapGet("/jobs/{id:long}", (long id) => store.Get(id) is { } job ? Results.Json(RunView.Json(job, withRequest: true)) : NotFound(id));
        app.MapPost("/jobs/{id:long}/cancel", (long id) =>
        {
            var before = store.Get(id);
            if (before is null) return NotFound(id);
            if (JobStates.IsFinal(before.State)) return Error(409, $"job {id} is already {before.State}");
            var job = store.RequestCancel(id)!;
            runner.Poke();
            return Results.Json(RunView.Json(job), statusCode: 202);
        });
        app.MapGet("/jobs/{id:long}/progress", (long id) => store.Get(id) is { } job ? Results.Json(RunView.Progress(job), Snake) : NotFound(id));
        app.MapGet("/jobs/{id:long}/metrics", async (long id) =>
        {
            if (store.Get(id) is not { } job) return NotFound(id);
            var metrics = await MetricsLog.OpenAsync(new RunFolder(job.Run).Metrics, long.MaxValue);
            return Results.Json(metrics.Rows, Snake);
        });
        app.MapGet("/jobs/{id:long}/files/{name}", (long id, string name) =>
        {
            if (store.Get(id) is not { } job) return NotFound(id);
            if (!Files.Contains(name)) return Error(400, $"files are {string.Join(", ", Files)}");
            string path = Path.Combine(new RunFolder(job.Run).Path, name);
            return File.Exists(path) ? Results.File(File.ReadAllBytes(path), "image/png") : Error(404, $"job {id} has no {name} yet (written when the run stops)");
        });
        app.MapGet("/jobs/{id:long}/logs", async (HttpContext ctx, long id, long? offset, string? stream, bool? follow) =>
        {
            if (store.Get(id) is not { } job) { await NotFound(id).ExecuteAsync(ctx); return; }
            if (stream is not (null or "stderr" or "stdout")) { await Error(400, "stream is stderr (the default) or stdout").ExecuteAsync(ctx); return; }
            var run = new RunFolder(job.Run);
            string path = stream == "stdout" ? JobRunner.Stdout(run) : JobRunner.Stderr(run);
            long from = Math.Max(0, offset ?? 0);
            if (follow != true)
            {
                var (text, next) = ReadFrom(path, from, 1 << 20);
                await Results.Json(new { offset = from, next_offset = next, text, state = job.State, done = JobStates.IsFinal(job.State) }).ExecuteAsync(ctx);
                return;
            }
            // Follow: stream the log as it grows until the job reaches a final state (or the client goes away).
            ctx.Response.ContentType = "text/plain; charset=utf-8";
            var ct = ctx.RequestAborted;
            while (!ct.IsCancellationRequested)
            {
                var (text, next) = ReadFrom(path, from, 1 << 20);
                if (text.Length > 0) { await ctx.Response.WriteAsync(text, ct); await ctx.Response.Body.FlushAsync(ct); from = next; continue; }
                if (store.Get(id) is not { } now || JobStates.IsFinal(now.State)) break;
                try { await Task.Delay(250, ct); } catch (OperationCanceledException) { break; }
            }
        });
        return app;
    }

    static IResult Error(int status, string reason) => Results.Json(new { error = reason }, statusCode: status);
    static IResult NotFound(long id) => Error(404, $"no job {id}");

    static bool IsLoopback(string url)
    {
        if (!Uri.TryCreate(url.Replace("://*", "://0.0.0.0").Replace("://+", "://0.0.0.0"), UriKind.Absolute, out var uri)) return false;
        return uri.IsLoopback || (IPAddress.TryParse(uri.Host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip));
    }

    static bool Authorized(HttpContext ctx, string token)
    {
        string? given = ctx.Request.Headers.Authorization.ToString() is { } h && h.StartsWith("Bearer ", StringComparison.Ordinal) ? h[7..].Trim() : null;
        given ??= ctx.Request.Cookies["maskwork_token"];
        if (given is null && ctx.Request.Path == "/" && ctx.Request.Query["token"].ToString() is { Length: > 0 } q && Equal(q, token))
        {
            // The dashboard opened as /?token=…: keep the token in a cookie for its own requests.
            ctx.Response.Cookies.Append("maskwork_token", token, new CookieOptions { HttpOnly = true, SameSite = SameSiteMode.Strict });
            return true;
        }
        return given is not null && Equal(given, token);
    }

    static bool Equal(string a, string b) => CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(a), Encoding.UTF8.GetBytes(b));

    /// <summary>The token file's value; a random one written with mode 0600 when the file is missing.</summary>
    public static string Token(string path)
    {
        if (!File.Exists(path))
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            string fresh = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
            var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows()) create.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite; // 0600 from the first byte
            using var f = new FileStream(path, create);
            f.Write(Encoding.ASCII.GetBytes(fresh + "\n"));
        }
        string token = File.ReadAllText(path).Trim();
        if (token.Length < 16) throw new Cli.CommandException($"the token in {path} is shorter than 16 characters; delete the file to get a fresh one");
        return token;
    }

    static async Task<byte[]?> ReadBounded(HttpRequest request, int limit)
    {
        if (request.ContentLength > limit) return null;
        using var buffer = new MemoryStream();
        var chunk = new byte[16 << 10];
        int n;
        while ((n = await request.Body.ReadAsync(chunk)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > limit) return null;
        }
        return buffer.ToArray();
    }

    static (string Text, long Next) ReadFrom(string path, long offset, int max)
    {
        if (!File.Exists(path)) return ("", offset);
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        if (offset >= f.Length) return ("", offset);
        f.Seek(offset, SeekOrigin.Begin);
        var bytes = new byte[(int)Math.Min(max, f.Length - offset)];
        int read = f.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        // End on a whole UTF-8 character: never split a multi-byte sequence between two reads.
        int end = read, i = read - 1, continuation = 0;
        while (i >= 0 && continuation < 3 && (bytes[i] & 0xC0) == 0x80) { i--; continuation++; }
        if (i >= 0 && bytes[i] >= 0xC0 && continuation + 1 < (bytes[i] >= 0xF0 ? 4 : bytes[i] >= 0xE0 ? 3 : 2)) end = i;
        return (Encoding.UTF8.GetString(bytes, 0, end), offset + end);
    }

    static string Prometheus(JobStore store)
    {
        var s = new StringBuilder();
        s.Append("# HELP maskwork_jobs Jobs in the queue by state.\n# TYPE maskwork_jobs gauge\n");
        foreach (var (state, n) in store.CountByState()) s.Append(CultureInfo.InvariantCulture, $"maskwork_jobs{{state=\"{state}\"}} {n}\n");
        var running = store.List(JobStates.Running).Select(j => (j, p: RunView.Progress(j))).ToList();
        s.Append("# HELP maskwork_job_steps_per_second Training steps per second of a running job.\n# TYPE maskwork_job_steps_per_second gauge\n");
        foreach (var (j, p) in running) s.Append(CultureInfo.InvariantCulture, $"maskwork_job_steps_per_second{{job=\"{j.Id}\",recipe=\"{j.Recipe}\"}} {RunView.StepsPerSecond(p):0.###}\n");
        s.Append("# HELP maskwork_job_step The last logged step of a running job.\n# TYPE maskwork_job_step gauge\n");
        foreach (var (j, p) in running) s.Append(CultureInfo.InvariantCulture, $"maskwork_job_step{{job=\"{j.Id}\",recipe=\"{j.Recipe}\"}} {(p.Count > 0 ? p[^1].Step : 0)}\n");
        return s.ToString();
    }

    static Task WriteHealth(HttpContext ctx, HealthReport report)
    {
        ctx.Response.ContentType = "application/json";
        return ctx.Response.WriteAsync(new JsonObject
        {
            ["status"] = report.Status.ToString().ToLowerInvariant(),
            ["checks"] = new JsonObject([.. report.Entries.Select(e => KeyValuePair.Create(e.Key, (JsonNode?)new JsonObject
            {
                ["status"] = e.Value.Status.ToString().ToLowerInvariant(), ["detail"] = e.Value.Description,
            }))]),
        }.ToJsonString());
    }

    static HealthCheckResult Try(Func<string> check)
    {
        try { return HealthCheckResult.Healthy(check()); }
        catch (Exception e) { return HealthCheckResult.Unhealthy(e.Message); }
    }

    // libtorch is loaded once, the first time readiness is asked for (what every job's process will need).
    static readonly Lazy<HealthCheckResult> Native = new(() =>
        TorchRuntime.TryLoad(out var detail) ? HealthCheckResult.Healthy("libtorch loads") : HealthCheckResult.Unhealthy(detail));

    static string Dashboard(string name)
    {
        using var stream = typeof(WorkerServer).Assembly.GetManifestResourceStream($"Maskwork.Dashboard.{name}")
            ?? throw new InvalidOperationException($"dashboard resource {name} missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
