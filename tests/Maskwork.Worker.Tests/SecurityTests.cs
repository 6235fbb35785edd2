using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace Maskwork.Worker.Tests;

/// <summary>A worker bound beyond loopback: the bearer token; and request validation, which refuses with 400 and queues nothing.</summary>
public sealed class SecurityTests : IDisposable
{
    readonly string dir = Directory.CreateTempSubdirectory("mw-worker-sec-").FullName;

    public void Dispose()
    {
        try { Directory.Delete(dir, true); } catch (IOException) { }
    }

    [Fact]
    public void Non_loopback_needs_the_token_and_bad_requests_are_refused_with_a_reason()
    {
        using var w = new Worker(dir, host: "0.0.0.0").Start();
        string tokenFile = Path.Combine(w.RunsRoot, ".worker-token");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(tokenFile));
        string token = File.ReadAllText(tokenFile).Trim();
        Assert.True(token.Length >= 32);

        Assert.Equal(HttpStatusCode.OK, w.Http.GetAsync("healthz").Result.StatusCode); // liveness needs no token
        foreach (var path in new[] { "jobs", "", "metrics", "readyz" })
            Assert.Equal(HttpStatusCode.Unauthorized, w.Http.GetAsync(path).Result.StatusCode);
        w.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token[..^1] + (token[^1] == 'a' ? 'b' : 'a'));
        Assert.Equal(HttpStatusCode.Unauthorized, w.Http.GetAsync("jobs").Result.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, w.Http.PostAsync("jobs", Json(Worker.TinyJob(40))).Result.StatusCode);
        w.Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        Assert.Equal(HttpStatusCode.OK, w.Http.GetAsync("jobs").Result.StatusCode);
        var ready = w.Http.GetAsync("readyz").Result;
        Assert.True(ready.StatusCode == HttpStatusCode.OK, ready.Content.ReadAsStringAsync().Result);

        // Data roots: one allowed folder; outside it, a `..` escape and a symlink escape.
        string outside = Directory.CreateDirectory(Path.Combine(dir, "outside")).FullName;
        Directory.CreateDirectory(Path.Combine(w.DataRoot, "cats"));
        string link = Path.Combine(w.DataRoot, "link");
        Directory.CreateSymbolicLink(link, outside);
        var refusals = new (string What, HttpContent Body, string Reason)[]
        {
            ("outside the roots", Json(With("data", $"image-folder:{outside}")), "outside the worker's data roots"),
            ("a .. escape", Json(With("data", $"image-folder:{w.DataRoot}/cats/../../outside")), "outside the worker's data roots"),
            ("a symlink escape", Json(With("data", $"image-folder:{link}")), "outside the worker's data roots"),
            ("an unknown recipe", Json(With("recipe", "image/nope")), "unknown recipe 'image/nope'"),
            ("an unknown field", Json(With("command", "rm -rf /")), "unknown field 'command'"),
            ("an unknown override", Json(With("train", new JsonObject { ["nope"] = 1 })), "nope"),
            ("a relative path", Json(With("data", "image-folder:cats")), "absolute"),
            ("an oversized body", new StringContent("{\"recipe\": \"image/mae\"," + new string(' ', 100_000) + "\"steps\": 40}", Encoding.UTF8, "application/json"), "larger than 65536 bytes"),
            ("an oversized string", Json(With("name", new string('n', 5000))), "longer than 4096"),
            ("not JSON", new StringContent("recipe=image/mae", Encoding.UTF8, "application/json"), "not valid JSON"),
            ("zero ranks", Json(With("ranks", 0)), "ranks must be a whole number from 1 to 256"),
            ("more ranks than cores", Json(With("ranks", Environment.ProcessorCount + 1)), $"at most {Environment.ProcessorCount} rank"),
        };
        foreach (var (what, body, reason) in refusals)
        {
            var r = w.Http.PostAsync("jobs", body).Result;
            string text = r.Content.ReadAsStringAsync().Result;
            Assert.True(r.StatusCode == HttpStatusCode.BadRequest, $"{what}: {(int)r.StatusCode} {text}");
            Assert.Contains(reason, JsonNode.Parse(text)!["error"]!.GetValue<string>());
        }
        Assert.Empty(w.Jobs());
        Assert.False(Directory.Exists(Path.Combine(w.RunsRoot, "jobs")));

        // The client verbs read the same token file, and print the worker's reason.
        var list = w.Cli("jobs", "list", "--json");
        Assert.True(list.Code == 0, list.Stderr);
        Assert.Empty(Worker.LastJson("{\"a\":" + list.Stdout.Trim() + "}")["a"]!.AsArray());
        var refused = w.Cli("jobs", "submit", "--recipe", "image/mae", "--data", $"image-folder:{outside}", "--json");
        Assert.Equal(1, refused.Code);
        Assert.Contains("outside the worker's data roots", refused.Stderr);
    }

    static JsonObject With(string key, JsonNode value)
    {
        var job = Worker.TinyJob(40);
        job[key] = value;
        return job;
    }

    static StringContent Json(JsonObject body) => new(body.ToJsonString(), Encoding.UTF8, "application/json");
}
