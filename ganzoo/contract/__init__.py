"""What a plugin implements and sees: value types, the step context and extension bases, hook specs.

The bottom layer of ganzoo (above errors): it imports torch and ganzoo.errors only, so a plugin author reads this
package and ganzoo.api, never the engine.
"""
