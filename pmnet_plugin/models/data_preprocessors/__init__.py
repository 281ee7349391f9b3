from .cached_feature_preprocessor import CachedFeaturePreprocessor

__all__ = ['CachedFeaturePreprocessor']
