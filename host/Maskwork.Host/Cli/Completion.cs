namespace Maskwork.Host.Cli;

/// <summary>
/// <c>maskwork completion bash</c>: a script that asks maskwork itself for completions through
/// System.CommandLine's <c>[suggest:N]</c> directive (what <c>dotnet-suggest</c> would do, without it):
/// verbs, options, and option values such as <c>--device cpu|cuda|auto</c>.
/// </summary>
public static class Completion
{
    public const string Bash = """
        # maskwork bash completion. Load it with: source <(maskwork completion bash)
        # or install it: maskwork completion bash > ~/.local/share/bash-completion/completions/maskwork
        _maskwork_complete() {
            local exe="${COMP_WORDS[0]}" line="${COMP_LINE:0:COMP_POINT}"
            local rest="${line#"$exe"}"
            rest="${rest# }"
            local IFS=$'\n'
            COMPREPLY=($(compgen -W "$("$exe" "[suggest:${#rest}]" "$rest" 2>/dev/null)" -- "${COMP_WORDS[COMP_CWORD]}"))
        }
        complete -o default -F _maskwork_complete maskwork
        """;

    public static int Print(string? shell)
    {
        if ((shell ?? "bash") != "bash") throw new UsageException($"completion scripts exist for bash only, got '{shell}'");
        Console.Out.WriteLine(Bash);
        return 0;
    }
}
