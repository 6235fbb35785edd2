using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace Maskwork.EndToEnd.Tests;

/// <summary>
/// Describes an assembly's public API as sorted text lines (one per type or member, C#-like), so the
/// checked-in PublicAPI.txt of a package shows every change to it in review.
/// </summary>
public static class PublicApi
{
    public static string Describe(Assembly assembly)
    {
        var lines = new List<string>();
        foreach (var type in assembly.GetExportedTypes().OrderBy(t => t.FullName, StringComparer.Ordinal))
        {
            lines.Add(TypeLine(type));
            const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
            var members = new List<string>();
            foreach (var m in type.GetMembers(all))
            {
                if (!Visible(m)) continue;
                string? text = m switch
                {
                    ConstructorInfo c when !type.IsEnum && !(type.IsAbstract && type.IsSealed) => $"{Access(c)}ctor({Parameters(c.GetParameters())})",
                    MethodInfo mi when !mi.IsSpecialName || mi.Name.StartsWith("op_", StringComparison.Ordinal) => Method(mi),
                    PropertyInfo p => Property(p),
                    FieldInfo f when type.IsEnum && f.IsStatic => $"{f.Name} = {Convert.ToInt64(f.GetRawConstantValue(), System.Globalization.CultureInfo.InvariantCulture)}",
                    FieldInfo f when !type.IsEnum => $"{Access(f)}{(f.IsLiteral ? "const " : f.IsStatic ? "static " : "")}{(f.IsInitOnly ? "readonly " : "")}{Name(f.FieldType)} {f.Name}",
                    EventInfo e => $"event {Name(e.EventHandlerType!)} {e.Name}",
                    _ => null,
                };
                if (text is not null) members.Add($"  {type.FullName}::{text}");
            }
            lines.AddRange(members.Order(StringComparer.Ordinal));
        }
        return string.Join('\n', lines) + "\n";
    }

    static bool Visible(MemberInfo m)
    {
        if (m.Name.Contains('<') || m.IsDefined(typeof(CompilerGeneratedAttribute)) && m is MethodInfo { IsSpecialName: false }) return false;
        return m switch
        {
            MethodBase b => b.IsPublic || b.IsFamily || b.IsFamilyOrAssembly,
            FieldInfo f => f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly,
            PropertyInfo p => p.GetAccessors(true).Any(a => a.IsPublic || a.IsFamily || a.IsFamilyOrAssembly),
            EventInfo e => e.AddMethod is { } a && (a.IsPublic || a.IsFamily),
            _ => false,
        };
    }

    static string Access(MethodBase m) => m.IsPublic ? "" : "protected ";
    static string Access(FieldInfo f) => f.IsPublic ? "" : "protected ";

    static string TypeLine(Type t)
    {
        string kind = t.IsInterface ? "interface" : t.IsEnum ? "enum" : t.IsValueType ? "struct"
            : typeof(Delegate).IsAssignableFrom(t) ? "delegate" : t.IsAbstract && t.IsSealed ? "static class"
            : t.GetMethod("<Clone>$") is not null ? "record" : "class";
        string mods = kind is "class" or "record" ? (t.IsAbstract ? "abstract " : t.IsSealed ? "sealed " : "") : "";
        var bases = new List<string>();
        if (t.BaseType is { } b && b != typeof(object) && b != typeof(ValueType) && b != typeof(Enum) && !t.IsEnum && kind != "delegate") bases.Add(Name(b));
        var inherited = t.BaseType?.GetInterfaces() ?? [];
        bases.AddRange(t.GetInterfaces().Where(i => !inherited.Contains(i) && (i.IsPublic || i.IsNestedPublic)).Select(Name).Order(StringComparer.Ordinal));
        return $"{mods}{kind} {t.FullName}{Generics(t)}{(bases.Count > 0 ? " : " + string.Join(", ", bases) : "")}";
    }

    static string Generics(Type t) => t.IsGenericTypeDefinition ? "<" + string.Join(", ", t.GetGenericArguments().Select(a => a.Name)) + ">" : "";

    static string Method(MethodInfo m)
    {
        string mods = Access(m) + (m.IsStatic ? "static " : m.IsAbstract && !m.DeclaringType!.IsInterface ? "abstract " : m.IsVirtual && !m.IsFinal && !m.DeclaringType!.IsInterface ? (m.GetBaseDefinition() == m ? "virtual " : "override ") : "");
        string generics = m.IsGenericMethodDefinition ? "<" + string.Join(", ", m.GetGenericArguments().Select(a => a.Name)) + ">" : "";
        return $"{mods}{Name(m.ReturnType)} {m.Name}{generics}({Parameters(m.GetParameters())})";
    }

    static string Property(PropertyInfo p)
    {
        var get = p.GetMethod is { } g && (g.IsPublic || g.IsFamily) ? g : null;
        var set = p.SetMethod is { } s && (s.IsPublic || s.IsFamily) ? s : null;
        bool init = set is not null && set.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(IsExternalInit));
        var any = get ?? set!;
        string mods = (any.IsStatic ? "static " : "") + (any.IsAbstract && !any.DeclaringType!.IsInterface ? "abstract " : "");
        string indexer = p.GetIndexParameters() is { Length: > 0 } ix ? $"[{Parameters(ix)}]" : "";
        return $"{mods}{Name(p.PropertyType)} {p.Name}{indexer} {{ {(get is not null ? "get; " : "")}{(set is not null ? (init ? "init; " : "set; ") : "")}}}";
    }

    static string Parameters(ParameterInfo[] ps) => string.Join(", ", ps.Select(p =>
    {
        var sb = new StringBuilder();
        if (p.IsDefined(typeof(ParamArrayAttribute))) sb.Append("params ");
        if (p.ParameterType.IsByRef) sb.Append(p.IsOut ? "out " : p.IsIn ? "in " : "ref ");
        sb.Append(Name(p.ParameterType.IsByRef ? p.ParameterType.GetElementType()! : p.ParameterType)).Append(' ').Append(p.Name);
        if (p.HasDefaultValue) sb.Append(" = ").Append(p.DefaultValue switch
        {
            null => "null", string s => $"\"{s}\"", bool b => b ? "true" : "false",
            IFormattable f => f.ToString(null, System.Globalization.CultureInfo.InvariantCulture), var o => o.ToString(),
        });
        return sb.ToString();
    }));

    static string Name(Type t)
    {
        if (t.IsGenericParameter) return t.Name;
        if (t.IsArray) return Name(t.GetElementType()!) + "[" + new string(',', t.GetArrayRank() - 1) + "]";
        if (t.IsPointer) return Name(t.GetElementType()!) + "*";
        if (Nullable.GetUnderlyingType(t) is { } u) return Name(u) + "?";
        string name = t.IsNested ? Name(t.DeclaringType!) + "." + t.Name : t.Namespace is null ? t.Name : t.Namespace + "." + t.Name;
        if (t.IsNested && t.DeclaringType!.IsGenericType) name = t.DeclaringType.Namespace + "." + t.DeclaringType.Name.Split('`')[0] + "." + t.Name;
        if (!t.IsGenericType) return name;
        var args = t.GetGenericArguments();
        return name.Split('`')[0] + "<" + string.Join(", ", args.Select(Name)) + ">";
    }
}
