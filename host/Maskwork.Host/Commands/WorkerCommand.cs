using Maskwork.Host.Cli;
using Maskwork.Host.Worker;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;

namespace Maskwork.Host.Commands;

/// <summary>What <c>worker</c> is asked for: where to listen (null: the Maskwork:Worker:Url setting).</summary>
public sealed record WorkerArgs(string? Urls);

/// <summary><c>maskwork worker</c>: serves the job queue until SIGTERM or Ctrl-C (DESIGN.md section 12).</summary>
public sealed class WorkerCommand(Workspace workspace, IConfiguration configuration)
{
    public async Task<int> RunAsync(WorkerArgs args, CancellationToken ct)
    {
        var options = WorkerSettings(configuration);
        string[] urls = (args.Urls ?? options.Url).Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        await using var app = WorkerServer.Build(urls, workspace.Options.RunsRoot, options, workspace.Catalog);
        try { await app.RunAsync(); }
        catch (IOException e) when (e.InnerException is System.Net.Sockets.SocketException || e.Message.Contains("address", StringComparison.OrdinalIgnoreCase))
        {
            throw new CommandException($"cannot listen on {string.Join(", ", urls)}: {e.Message}. Is another worker running? Choose another address with --urls.");
        }
        return 0;
    }

    /// <summary>The Maskwork:Worker section, validated.</summary>
    public static WorkerOptions WorkerSettings(IConfiguration configuration)
    {
        var options = configuration.GetSection("Maskwork:Worker").Get<WorkerOptions>() ?? new WorkerOptions();
        var errors = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(options, new(options), errors, validateAllProperties: true))
            throw new CommandException($"invalid Maskwork:Worker settings: {string.Join("; ", errors.Select(e => e.ErrorMessage))}");
        return options;
    }
}
